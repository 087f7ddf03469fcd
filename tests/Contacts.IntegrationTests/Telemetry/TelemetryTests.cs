using System.Diagnostics;
using System.Net;
using System.Text;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests.Telemetry;

/// <summary>What an ops team sees over OTLP: one connected trace per contact, and no customer's phone or email anywhere.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class TelemetryTests(ServersFixture servers)
{
    private static readonly string[] Services =
        [LocalPipeline.Gateway, LocalPipeline.Ingestion, LocalPipeline.Identity, LocalPipeline.Effort, LocalPipeline.Alerting];

    [Fact]
    public async Task A_journey_is_one_connected_trace_from_the_gateway_to_the_CRM_webhook_with_no_phone_or_email_in_any_export()
    {
        await using var otlp = new OtlpReceiver();
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("otel"), environment: otlp.Environment);
        using var http = pipeline.Client();
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var callerSpanId = ActivitySpanId.CreateRandom().ToHexString();
        http.DefaultRequestHeaders.Add("traceparent", $"00-{traceId}-{callerSpanId}-01");

        var digits = Random.Shared.Next(100, 999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var localPart = $"otel.probe.{Guid.NewGuid():N}";
        // The summaries (and the promise beside them) are customer content too, marked so they can be searched for.
        var said = $"said-{Guid.NewGuid():N}";
        foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, phone: $"+44 20 7946 0{digits}", email: $"{localPart}@Example.com", idPrefix: "otel", tag: said))
        {
            await TestPipeline.Push(http, e);
        }
        // Reads by identifier put the phone and email in a query string, which must not reach a span or a log either.
        await TestPipeline.Eventually(async () =>
        {
            using var byEmail = await http.GetAsync($"v1/customers?email={localPart}@example.com");
            using var byPhone = await http.GetAsync($"v1/customers?phone=%2B44207946 0{digits}");
            return byEmail.StatusCode == HttpStatusCode.OK && byPhone.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult("the customer was not found by email and phone"));
        // The brief carries the summaries out through the gateway: that read must not put them in a span or a log either.
        var customerId = (await TestPipeline.Customer(http, $"?email={localPart}@example.com")).GetProperty("id").GetGuid();
        await TestPipeline.Eventually(async () =>
        {
            using var brief = await http.GetAsync($"v1/customers/{customerId}/brief");
            return brief.StatusCode == HttpStatusCode.OK && (await brief.Content.ReadAsStringAsync()).Contains(said, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(30), () => Task.FromResult("the brief did not tell what the customer said"));

        List<ReceivedSpan> Trace() => [.. otlp.Spans.Where(s => s.TraceId == traceId)];
        string Describe(List<ReceivedSpan> spans) => string.Join("; ", spans.Select(s => $"{s.Service}:{s.Name} {s.SpanId}<-{s.ParentSpanId}"));
        bool Connected(List<ReceivedSpan> spans)
        {
            var ids = spans.Select(s => s.SpanId).ToHashSet();
            return spans.All(s => s.ParentSpanId == callerSpanId || ids.Contains(s.ParentSpanId));
        }
        var webhookSpan = "";
        await TestPipeline.Eventually(() =>
        {
            var spans = Trace();
            webhookSpan = pipeline.Crm.Received.Select(w => w.Traceparent?.Split('-')).FirstOrDefault(p => p?[1] == traceId)?[2] ?? "";
            return Task.FromResult(Services.All(s => spans.Any(x => x.Service == s)) && Connected(spans)
                && webhookSpan != "" && spans.Any(s => s.SpanId == webhookSpan));
        }, TimeSpan.FromSeconds(60), () => Task.FromResult(
            $"webhook parent span '{webhookSpan}', {Trace().Count} spans: {Describe(Trace())}"));

        var trace = Trace();
        Assert.All(Services, service => Assert.Contains(trace, s => s.Service == service));
        Assert.True(Connected(trace), Describe(trace));
        Assert.Contains(trace, s => s.Service == LocalPipeline.Alerting && s.SpanId == webhookSpan);
        Assert.Contains(otlp.Exports, e => e.Path == "/v1/logs");
        Assert.Contains(otlp.Exports, e => e.Path == "/v1/metrics");

        await Task.Delay(1500); // the last logs and metrics of the reads above
        string[] secrets = [$"79460{digits}", $"7946 0{digits}", localPart, said, "Charged twice for the October invoice"];
        foreach (var (path, body) in otlp.Exports.ToList())
        {
            var text = Encoding.UTF8.GetString(body);
            foreach (var secret in secrets)
            {
                Assert.False(text.Contains(secret, StringComparison.OrdinalIgnoreCase), $"an OTLP export to {path} contains a customer's identifier or what they said");
            }
        }
    }
}
