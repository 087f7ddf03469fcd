using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>
/// A CRM's subscription switched off and on through the gateway: paused, its alerts wait and come in order on resume;
/// failing, then disabled by a 410, another subscription of the tenant hears it once per episode (and never the one it is
/// about), and after enable it delivers again and the recovery is announced. Time is the suite's compressed schedule.
/// </summary>
public sealed partial class SubscriptionEndToEndTests
{
    private static readonly string[] Operational = ["subscription.failing", "subscription.disabled", "subscription.recovered"];

    private static async Task<JsonElement> Switch(HttpClient http, Guid subscription, string action, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await http.PostAsync($"v1/subscriptions/{subscription}/{action}", null);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == expected, $"{action}: {(int)response.StatusCode} {body}");
        return body;
    }

    private static async Task<List<JsonElement>> Deliveries(HttpClient http, Guid subscription) =>
        [.. (await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}/deliveries?limit=200")).GetProperty("items").EnumerateArray()];

    [Fact]
    public async Task A_paused_subscription_gets_what_waited_in_order_and_a_failing_then_disabled_one_is_announced_once_per_episode_to_another()
    {
        using var http = await _pipeline.NewTenant("lifecycle");
        await using var crm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        await using var ops = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        var answer = 200;
        crm.Responder = _ => Volatile.Read(ref answer);
        // The CRM also asks for the operational types: it must never get one about itself.
        var (subscription, _) = await SubscribeOk(http, crm, ["alert.raised", .. Operational]);
        var (opsSubscription, _) = await SubscribeOk(http, ops, Operational);

        // Paused: two customers' alerts are queued, and wait.
        Assert.Equal("paused", (await Switch(http, subscription, "pause")).GetProperty("status").GetString());
        Assert.Equal("paused", (await Switch(http, subscription, "pause")).GetProperty("status").GetString());
        await HighEffortJourney(http, "paused-a");
        await TestPipeline.Eventually(async () => (await Deliveries(http, subscription)).Count == 1, Patience, () => Task.FromResult("the first alert was not queued"));
        await HighEffortJourney(http, "paused-b");
        await TestPipeline.Eventually(async () => (await Deliveries(http, subscription)).Count == 2, Patience, () => Task.FromResult("the second alert was not queued"));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Empty(crm.Received);
        var queued = (await Deliveries(http, subscription)).OrderBy(d => d.GetProperty("createdAt").GetDateTimeOffset()).ToList();
        Assert.All(queued, d => Assert.Equal("pending", d.GetProperty("status").GetString()));

        // Resumed: both, in the order they were queued.
        Assert.Equal("enabled", (await Switch(http, subscription, "resume")).GetProperty("status").GetString());
        await TestPipeline.Eventually(() => Task.FromResult(crm.Received.Count(w => Type(w) == "alert.raised") == 2), Patience,
            () => Task.FromResult($"{crm.Received.Count} webhooks after resume"));
        Assert.Equal(queued.Select(d => d.GetProperty("webhookId").GetGuid().ToString()), crm.Received.Select(w => w.Id));

        // Failing: the 4th failed attempt in a row is announced to the other subscription, once; the first success, recovered.
        Volatile.Write(ref answer, 503);
        await HighEffortJourney(http, "failing");
        await TestPipeline.Eventually(() => Task.FromResult(ops.Received.Any(w => Type(w) == "subscription.failing")), Patience,
            () => Task.FromResult($"ops got {ops.Received.Count} events; the CRM answered {crm.Answered.Count} times"));
        var failing = Data(ops.Received.Single(w => Type(w) == "subscription.failing"));
        Assert.Equal((subscription, "enabled", 4, 503), (failing.GetProperty("subscriptionId").GetGuid(), failing.GetProperty("status").GetString(),
            failing.GetProperty("failedAttempts").GetInt32(), failing.GetProperty("lastStatusCode").GetInt32()));
        await TestPipeline.Eventually(() => Task.FromResult(crm.Answered.Count(a => a.Status == 503) >= 5), Patience,
            () => Task.FromResult("no fifth failed attempt"));
        Volatile.Write(ref answer, 200);
        await TestPipeline.Eventually(() => Task.FromResult(ops.Received.Any(w => Type(w) == "subscription.recovered")), Patience,
            () => Task.FromResult($"ops got {string.Join(", ", ops.Received.Select(Type))}"));

        // Disabled by a 410: announced once; pause and resume do not apply; enable switches it on and the recovery is announced.
        Volatile.Write(ref answer, 410);
        await HighEffortJourney(http, "gone");
        await TestPipeline.Eventually(() => Task.FromResult(ops.Received.Any(w => Type(w) == "subscription.disabled")), Patience,
            () => Task.FromResult($"ops got {string.Join(", ", ops.Received.Select(Type))}"));
        var disabled = await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}");
        Assert.Equal("disabled", disabled.GetProperty("status").GetString());
        Assert.Equal(disabled.GetProperty("disabledReason").GetString(), Data(ops.Received.Single(w => Type(w) == "subscription.disabled")).GetProperty("disabledReason").GetString());
        Assert.Contains("enable", (await Switch(http, subscription, "pause", HttpStatusCode.Conflict)).GetProperty("detail").GetString());
        Assert.Contains("enable", (await Switch(http, subscription, "resume", HttpStatusCode.Conflict)).GetProperty("detail").GetString());
        Volatile.Write(ref answer, 200);
        var enabled = await Switch(http, subscription, "enable");
        Assert.Equal("enabled", enabled.GetProperty("status").GetString());
        Assert.False(enabled.TryGetProperty("disabledReason", out var reason) && reason.ValueKind != JsonValueKind.Null, enabled.ToString());
        var after = await HighEffortJourney(http, "enabled");
        await AlertRaisedAt(crm, after);
        await TestPipeline.Eventually(() => Task.FromResult(ops.Received.Count(w => Type(w) == "subscription.recovered") == 2), Patience,
            () => Task.FromResult($"ops got {string.Join(", ", ops.Received.Select(Type))}"));
        await Task.Delay(TimeSpan.FromSeconds(3)); // room for a second announcement, were there one

        Assert.Equal(["subscription.failing", "subscription.recovered", "subscription.disabled", "subscription.recovered"], ops.Received.Select(Type));
        Assert.All(ops.Received, w => Assert.Equal(subscription, Data(w).GetProperty("subscriptionId").GetGuid()));
        Assert.All(ops.Received, w => Assert.True(w.SignatureValid));
        Assert.DoesNotContain(crm.Received, w => Type(w).StartsWith("subscription.", StringComparison.Ordinal));
        _ = opsSubscription;
    }
}
