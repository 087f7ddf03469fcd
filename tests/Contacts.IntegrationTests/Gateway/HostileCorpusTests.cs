using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>
/// Malformed and hostile requests, one per file in HostileCorpus/, each its own case sent through the gateway: it must
/// get its expected status (and, for 400, name the fields at fault), and leave nothing behind in the database or the
/// broker beyond the valid items of a mixed batch. One pipeline serves every case (<see cref="HostileCorpusPipeline"/>).
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class HostileCorpusTests(ServersFixture servers, HostileCorpusPipeline corpus) : IClassFixture<HostileCorpusPipeline>
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "HostileCorpus");

    public static TheoryData<string> Cases() =>
        [.. Directory.GetFiles(Folder, "*.json").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void The_corpus_holds_at_least_forty_cases() => Assert.True(Cases().Count >= 40, $"the corpus has only {Cases().Count} cases");

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_hostile_request_gets_its_status_and_leaves_nothing_behind(string file)
    {
        var (pipeline, published) = await corpus.Start(servers);
        var spec = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Folder, file))).RootElement;
        const string Stored = "select source_event_id from ingestion.received_events";
        var storedBefore = await pipeline.Query(Stored, r => r.GetString(0));

        var (status, mediaType, body) = spec.TryGetProperty("http", out var rawHttp)
            ? await SendRaw(pipeline.Pipeline.GatewayAddress, rawHttp.GetString()!.Replace("{key}", pipeline.KeyA, StringComparison.Ordinal))
            : await Send(spec, pipeline);

        var expected = spec.GetProperty("expect").GetInt32();
        Assert.True(status == expected, $"expected {expected}, got {status} {body}");
        if (expected >= 400)
        {
            Assert.Equal("application/problem+json", mediaType);
        }
        if (spec.TryGetProperty("fields", out var fields))
        {
            Assert.Empty(Unnamed(file, JsonDocument.Parse(body).RootElement, fields));
        }
        var accepted = new List<string>();
        if (spec.TryGetProperty("items", out var items))
        {
            // A batch answers every item on its own: the valid ones stored, the bad ones named, none lost to another.
            var results = JsonDocument.Parse(body).RootElement.GetProperty("results").EnumerateArray().ToList();
            var wanted = items.EnumerateArray().ToList();
            Assert.Equal(wanted.Count, results.Count);
            for (var i = 0; i < wanted.Count; i++)
            {
                Assert.Equal(wanted[i].GetProperty("status").GetInt32(), results[i].GetProperty("status").GetInt32());
                if (wanted[i].TryGetProperty("fields", out var itemFields))
                {
                    Assert.Empty(Unnamed($"{file} item {i}", results[i], itemFields));
                }
                else if (results[i].GetProperty("status").GetInt32() == 202)
                {
                    accepted.Add(spec.GetProperty("body").GetProperty("events")[i].GetProperty("sourceEventId").GetString()!);
                }
            }
        }

        // Only the valid items of a mixed batch are stored and published; nothing of a refused request.
        var storedNow = await pipeline.Query(Stored, r => r.GetString(0));
        Assert.Equal(accepted.Order(StringComparer.Ordinal), storedNow.Except(storedBefore).Order(StringComparer.Ordinal));
        var publishedInAll = corpus.Accepted(accepted.Count);
        var deadline = DateTimeOffset.UtcNow.AddSeconds(15);
        while (published.Messages.Count < publishedInAll && DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(publishedInAll, published.Messages.Count);
    }

    private static IEnumerable<string> Unnamed(string name, JsonElement problem, JsonElement fields)
    {
        var named = problem.TryGetProperty("errors", out var errors) ? errors.EnumerateObject().Select(e => e.Name).ToHashSet() : [];
        return fields.EnumerateArray().Select(f => f.GetString()!).Where(f => !named.Contains(f))
            .Select(f => $"{name}: the problem does not name '{f}' (it names {string.Join(", ", named)}): {problem}");
    }

    private static async Task<(int Status, string? MediaType, string Body)> Send(JsonElement spec, TestPipeline pipeline)
    {
        using var request = Build(spec, pipeline);
        using var http = new HttpClient { BaseAddress = pipeline.Pipeline.GatewayAddress };
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Bytes no HTTP client would send (a malformed header line), written to the gateway's socket as they are.</summary>
    private static async Task<(int Status, string? MediaType, string Body)> SendRaw(Uri gateway, string request)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(gateway.Host, gateway.Port);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var headEnd = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = headEnd < 0 ? response : response[..headEnd];
        var status = int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var mediaType = head.Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?["Content-Type:".Length..].Split(';')[0].Trim();
        return (status, mediaType, headEnd < 0 ? "" : response[(headEnd + 4)..]);
    }

    private static HttpRequestMessage Build(JsonElement spec, TestPipeline pipeline)
    {
        var request = new HttpRequestMessage(new HttpMethod(spec.GetProperty("method").GetString()!), spec.GetProperty("path").GetString()!.TrimStart('/'));
        var contentType = spec.TryGetProperty("contentType", out var ct) && ct.ValueKind == JsonValueKind.String ? ct.GetString() : null;
        var body = spec.TryGetProperty("generate", out var generate) ? Generate(generate.GetString()!)
            : spec.TryGetProperty("raw", out var raw) ? raw.GetString()!
            : spec.TryGetProperty("body", out var json) ? json.GetRawText()
            : "";
        // rawBase64: exact bytes, such as those that are not UTF-8 (the generated-input test writes what it finds this way).
        request.Content = new ByteArrayContent(spec.TryGetProperty("rawBase64", out var bytes) ? Convert.FromBase64String(bytes.GetString()!) : Encoding.UTF8.GetBytes(body));
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

/// <summary>
/// The pipeline every hostile case goes through, started by the first case and stopped after the last, with a tap on
/// ContactEventReceived and the count of valid batch items published so far.
/// </summary>
public sealed class HostileCorpusPipeline : IAsyncLifetime
{
    private readonly SemaphoreSlim _starting = new(1, 1);
    private TestPipeline? _pipeline;
    private BrokerTap? _published;
    private int _accepted;

    public async Task<(TestPipeline Pipeline, BrokerTap Published)> Start(ServersFixture servers)
    {
        await _starting.WaitAsync();
        try
        {
            if (_pipeline is null)
            {
                var isolation = await servers.Isolate("corpus");
                // Secrets are configured, so a forged signature is refused for not matching, not for want of a secret.
                _pipeline = await TestPipeline.Create(isolation, environment: new Dictionary<string, string?>
                {
                    [$"Ingestion__Platforms__{TestPipeline.TenantA}__twilio__Secret"] = "corpus-twilio-token",
                    [$"Ingestion__Platforms__{TestPipeline.TenantA}__zendesk__Secret"] = "corpus-zendesk-secret",
                    [$"Ingestion__Platforms__{TestPipeline.TenantA}__webhook__Secret"] = "whsec_Y29ycHVzLXNlY3JldA==",
                });
                _published = await BrokerTap.Start(isolation.RabbitMq, "ContactEventReceived");
            }
            return (_pipeline, _published!);
        }
        finally
        {
            _starting.Release();
        }
    }

    /// <summary>Adds a case's valid items and answers how many ContactEventReceived the corpus should have published in all.</summary>
    public int Accepted(int more) => Interlocked.Add(ref _accepted, more);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_published is not null)
        {
            await _published.DisposeAsync();
        }
        if (_pipeline is not null)
        {
            await _pipeline.DisposeAsync();
        }
        _starting.Dispose();
    }
}
