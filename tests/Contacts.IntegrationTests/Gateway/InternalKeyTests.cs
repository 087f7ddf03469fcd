using System.Net;
using System.Text;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.ServiceDefaults.Tenancy;

namespace Contacts.IntegrationTests;

/// <summary>
/// Services trust only the gateway: called directly, around it, with a tenant header but without the internal key or with a
/// wrong one, every service answers 401 ProblemDetails; and a service given no key does not start at all.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class InternalKeyTests(ServersFixture servers)
{
    private static readonly (string Service, string Method, string Path)[] Calls =
    [
        (LocalPipeline.Ingestion, "POST", "v1/events"),
        (LocalPipeline.Ingestion, "POST", "v1/webhooks/amazon-connect"),
        (LocalPipeline.Identity, "GET", $"v1/customers/{Guid.Empty}"),
        (LocalPipeline.Identity, "DELETE", $"v1/customers/{Guid.Empty}"),
        (LocalPipeline.Effort, "GET", $"v1/customers/{Guid.Empty}/effort"),
        (LocalPipeline.Alerting, "GET", "v1/alerts"),
        (LocalPipeline.Alerting, "GET", "v1/subscriptions"),
        (LocalPipeline.Alerting, "GET", "admin/dead-letters"),
        (LocalPipeline.Alerting, "POST", "admin/dead-letters/identity-contact-events/retry"),
    ];

    private static readonly string Event = JsonSerializer.Serialize(new
    {
        source = "direct", sourceEventId = "direct-1", contactId = "c-direct", channel = "chat", kind = "message",
        occurredAt = "2026-11-20T10:00:00Z", identifiers = new { handle = "direct-caller" },
    });

    [Fact]
    public async Task Each_service_called_directly_without_the_internal_key_or_with_a_wrong_one_answers_401()
    {
        var isolation = await servers.Isolate("internalkey");
        await using var pipeline = await TestPipeline.Create(isolation,
            start: [LocalPipeline.Ingestion, LocalPipeline.Identity, LocalPipeline.Effort, LocalPipeline.Alerting]);
        var key = pipeline.Pipeline.Settings.InternalKey;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var wrong = new List<string>();
        foreach (var (service, method, path) in Calls)
        {
            foreach (var (variant, sentKey) in new[] { ("no key", (string?)null), ("a wrong key", key[..^1] + (key[^1] == '0' ? '1' : '0')), ("the key", key) })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(pipeline.Pipeline[service].BaseAddress, path));
                request.Headers.Add(Tenant.Header, TestPipeline.TenantA);
                request.Headers.Add(Tenant.OperatorHeader, "true"); // what the gateway says of an /admin request
                if (sentKey is not null)
                {
                    request.Headers.Add(Tenant.InternalKeyHeader, sentKey);
                }
                if (method == "POST" && path.StartsWith("v1/", StringComparison.Ordinal))
                {
                    request.Content = new StringContent(Event, Encoding.UTF8, "application/json");
                }
                using var response = await http.SendAsync(request);
                var status = (int)response.StatusCode;
                var problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
                // With the key the call gets past the check (202, 200, 404 ...), so a 401 without it is the check's doing.
                if (sentKey == key ? status == 401 : status != 401 || !problem)
                {
                    wrong.Add($"{method} {service} /{path} with {variant}: {status} {response.Content.Headers.ContentType?.MediaType}");
                }
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public async Task A_service_without_an_internal_key_refuses_to_start_and_says_what_to_set()
    {
        var isolation = await servers.Isolate("nokey");
        await using var pipeline = new LocalPipeline(new PipelineSettings
        {
            Postgres = isolation.Postgres,
            RabbitMq = isolation.RabbitMq,
            LogDirectory = Path.Combine(ServersFixture.LogRoot, isolation.Name),
            InternalKey = "",
        });
        var ingestion = pipeline.Add(LocalPipeline.Ingestion);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ingestion.StartAsync());
        Assert.Contains("exited with", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Internal:AllowMissingKey=true", refused.Message + await File.ReadAllTextAsync(ingestion.LogFile), StringComparison.Ordinal);
    }
}
