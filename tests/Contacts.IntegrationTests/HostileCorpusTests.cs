using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>
/// Malformed and hostile requests, one per file in HostileCorpus/, sent through the gateway: each must get its expected
/// status (and, for 400, name the fields at fault), and afterwards neither the database nor the broker holds anything.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class HostileCorpusTests(ServersFixture servers, ITestOutputHelper output)
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "HostileCorpus");

    [Fact]
    public async Task Every_hostile_request_gets_its_status_and_leaves_nothing_behind()
    {
        var files = Directory.GetFiles(Folder, "*.json").Order(StringComparer.Ordinal).ToList();
        Assert.True(files.Count >= 40, $"the corpus has only {files.Count} cases");
        var isolation = await servers.Isolate("corpus");
        // Secrets are configured, so a forged signature is refused for not matching, not for want of a secret.
        await using var pipeline = await TestPipeline.Create(isolation, environment: new Dictionary<string, string?>
        {
            [$"Ingestion__Platforms__{TestPipeline.TenantA}__twilio__Secret"] = "corpus-twilio-token",
            [$"Ingestion__Platforms__{TestPipeline.TenantA}__zendesk__Secret"] = "corpus-zendesk-secret",
            [$"Ingestion__Platforms__{TestPipeline.TenantA}__webhook__Secret"] = "whsec_Y29ycHVzLXNlY3JldA==",
        });
        await using var contactEvents = await BrokerTap.Start(isolation.RabbitMq, "ContactEventReceived");

        var failures = new List<string>();
        foreach (var file in files)
        {
            var spec = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
            using var request = Build(spec, pipeline);
            using var http = new HttpClient { BaseAddress = pipeline.Pipeline.GatewayAddress };
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var expected = spec.GetProperty("expect").GetInt32();
            var name = Path.GetFileName(file);
            if ((int)response.StatusCode != expected)
            {
                failures.Add($"{name}: expected {expected}, got {(int)response.StatusCode} {body}");
                continue;
            }
            if (expected >= 400 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"{name}: a {expected} without a ProblemDetails body ({response.Content.Headers.ContentType})");
            }
            if (spec.TryGetProperty("fields", out var fields))
            {
                var named = JsonDocument.Parse(body).RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToHashSet();
                foreach (var field in fields.EnumerateArray().Select(f => f.GetString()!).Where(f => !named.Contains(f)))
                {
                    failures.Add($"{name}: the problem does not name '{field}' (it names {string.Join(", ", named)})");
                }
            }
        }
        output.WriteLine($"{files.Count} hostile requests sent");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));

        await Task.Delay(1500); // time for anything wrongly published to reach the broker and identity
        Assert.Equal(0, await pipeline.Count("select count(*) from ingestion.received_events"));
        Assert.Equal(0, await pipeline.Count("select count(*) from ingestion.outbox"));
        Assert.Equal(0, await pipeline.Count("select count(*) from identity.timeline"));
        Assert.Empty(contactEvents.Messages);
    }

    private static HttpRequestMessage Build(JsonElement spec, TestPipeline pipeline)
    {
        var request = new HttpRequestMessage(new HttpMethod(spec.GetProperty("method").GetString()!), spec.GetProperty("path").GetString()!.TrimStart('/'));
        var contentType = spec.TryGetProperty("contentType", out var ct) && ct.ValueKind == JsonValueKind.String ? ct.GetString() : null;
        var body = spec.TryGetProperty("generate", out var generate) ? Generate(generate.GetString()!)
            : spec.TryGetProperty("raw", out var raw) ? raw.GetString()!
            : spec.TryGetProperty("body", out var json) ? json.GetRawText()
            : "";
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        switch (spec.GetProperty("auth").GetString())
        {
            case "tenant": request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", pipeline.KeyA); break;
            case "unknown": request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", $"ck_{Guid.NewGuid():N}"); break;
            case "unprefixed": request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", pipeline.KeyA[3..]); break;
            case "basic": request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("tenant-a:letmein"))); break;
            case "empty": request.Headers.TryAddWithoutValidation("Authorization", "Bearer "); break;
        }
        if (spec.TryGetProperty("headers", out var headers))
        {
            foreach (var header in headers.EnumerateObject())
            {
                request.Headers.TryAddWithoutValidation(header.Name, header.Value.GetString());
            }
        }
        return request;
    }

    /// <summary>The cases too large to keep as files.</summary>
    private static string Generate(string what)
    {
        object Event(int i, int topicLength) => new
        {
            source = "corpus", sourceEventId = $"corpus-big-{i}", contactId = "c", channel = "chat", kind = "message",
            occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1), identifiers = new { email = "big@example.com" }, topic = new string('t', topicLength),
        };
        return what switch
        {
            "oversize-event" => JsonSerializer.Serialize(Event(0, 70_000)),
            "oversize-batch" => JsonSerializer.Serialize(new { events = Enumerable.Range(0, 20).Select(i => Event(i, 60_000)) }),
            "501-events" => JsonSerializer.Serialize(new { events = Enumerable.Range(0, 501).Select(i => Event(i, 10)) }),
            _ => throw new ArgumentException($"unknown generated case {what}"),
        };
    }
}
