using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using Npgsql;

namespace Contacts.IntegrationTests;

/// <summary>
/// Nothing lost to an outage: a CRM down long enough to be disabled catches up by enable and replay, every alert and
/// identity change once by webhook-id; and the pull feed pages every event of a tenant, with no gap or repeat, while slow
/// and fast transactions commit around it.
/// </summary>
public sealed partial class SubscriptionEndToEndTests
{
    private static readonly string[] AlertAndCustomerTypes =
        ["alert.raised", "alert.escalated", "alert.acknowledged", "alert.resolved", "customer.merged", "customer.split", "customer.erased"];

    private static async Task<List<JsonElement>> Feed(HttpClient http, string types)
    {
        var events = new List<JsonElement>();
        string? after = null;
        while (true)
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"v1/feed?types={types}&limit=200{(after is null ? "" : $"&after={after}")}");
            var items = page.GetProperty("items").EnumerateArray().ToList();
            events.AddRange(items.Select(i => i.GetProperty("event")));
            if (items.Count == 0)
            {
                return events;
            }
            after = page.GetProperty("next").GetString();
        }
    }

    [Fact]
    public async Task A_CRM_down_long_enough_to_be_disabled_gets_every_alert_and_identity_change_once_after_enable_and_replay()
    {
        using var http = await _pipeline.NewTenant("replay");
        await using var crm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        var answer = 200;
        crm.Responder = _ => Volatile.Read(ref answer);
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var (subscription, _) = await SubscribeOk(http, crm, AlertAndCustomerTypes);

        // Up: the first alert arrives.
        var first = await AlertRaisedAt(crm, await HighEffortJourney(http, "replay-up"));
        // Down: the next alert fails on every attempt until the subscription is disabled.
        Volatile.Write(ref answer, 503);
        await HighEffortJourney(http, "replay-down");
        await TestPipeline.Eventually(async () => (await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}")).GetProperty("status").GetString() == "disabled",
            Patience, () => Task.FromResult($"not disabled; the CRM answered {crm.Answered.Count} times"));
        // While disabled, nothing is queued for it: another alert, an acknowledgement and a merge happen.
        await HighEffortJourney(http, "replay-off");
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"v1/alerts/{first}/acknowledge", null)).StatusCode);
        var n = Random.Shared.Next(1000, 9999);
        var (phone, email) = ($"+44 20 7946 {n}", $"merge.{Guid.NewGuid():N}@replay.example");
        object Contact(string id, object identifiers) => new
        {
            source = "replay-test", sourceEventId = $"{id}-{n}", contactId = $"{id}-{n}", channel = "web_form", kind = "message",
            occurredAt = DateTimeOffset.UtcNow.AddMinutes(-5), identifiers,
        };
        await TestPipeline.Push(http, Contact("by-phone", new { phone }));
        await TestPipeline.Customer(http, $"?phone={Uri.EscapeDataString(phone)}");
        await TestPipeline.Push(http, Contact("by-email", new { email }));
        await TestPipeline.Customer(http, $"?email={Uri.EscapeDataString(email)}");
        await TestPipeline.Push(http, Contact("both", new { phone, email }));
        // The tenant's log (the feed) holds everything that happened, delivered or not.
        var types = string.Join(',', AlertAndCustomerTypes);
        await TestPipeline.Eventually(async () => (await Feed(http, types)).Any(e => e.GetProperty("type").GetString() == "customer.merged")
                && (await Feed(http, types)).Count(e => e.GetProperty("type").GetString() == "alert.raised") == 3, Patience,
            () => Task.FromResult("the feed does not show the merge and three alerts"));
        var happened = await Feed(http, types);

        // Replay is refused while disabled, past retention, or with a wrong body.
        using (var disabled = await http.PostAsJsonAsync($"v1/subscriptions/{subscription}/replay", new { since }))
        {
            Assert.Equal(HttpStatusCode.Conflict, disabled.StatusCode);
        }
        Volatile.Write(ref answer, 200);
        Assert.Equal("enabled", (await Switch(http, subscription, "enable")).GetProperty("status").GetString());
        using (var old = await http.PostAsJsonAsync($"v1/subscriptions/{subscription}/replay", new { since = DateTimeOffset.UtcNow.AddDays(-40) }))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, old.StatusCode);
        }
        using (var wrong = await http.PostAsJsonAsync($"v1/subscriptions/{subscription}/replay", new { since, only = "some" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            Assert.True((await wrong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("only", out _));
        }

        using var replay = await http.PostAsJsonAsync($"v1/subscriptions/{subscription}/replay", new { since, only = "failed" });
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        var location = replay.Headers.Location!.ToString().TrimStart('/');
        JsonElement progress = default;
        await TestPipeline.Eventually(async () => (progress = await http.GetFromJsonAsync<JsonElement>(location)).GetProperty("status").GetString() == "done",
            Patience, () => Task.FromResult($"replay so far: {progress}"));
        Assert.Equal((progress.GetProperty("total").GetInt32(), 0), (progress.GetProperty("delivered").GetInt32(), progress.GetProperty("failed").GetInt32()));
        // Against the whole log as it is now: events may still have been added (a rescore's change) after `happened` was read.
        var logged = await Feed(http, types);
        Assert.True(progress.GetProperty("total").GetInt32() < logged.Count, $"only what it missed is re-sent: {progress} of {logged.Count} logged");
        await Task.Delay(TimeSpan.FromSeconds(2)); // room for a duplicate, were there one

        // Every event of the tenant, once by webhook-id, the first alert included (delivered before, not again). The log is
        // read again until it is quiet: a change that follows the merge (the survivor's rescore) may be logged after
        // `happened` was read, and once the subscription is enabled it is delivered live, like any other.
        var accepted = crm.Answered.Where(a => a.Status == 200).Select(a => a.Webhook).ToList();
        await TestPipeline.Eventually(async () =>
            {
                (logged, accepted) = (await Feed(http, types), [.. crm.Answered.Where(a => a.Status == 200).Select(a => a.Webhook)]);
                return logged.Select(e => e.GetProperty("id").GetString()).Order().SequenceEqual(accepted.Select(w => w.Id).Distinct().Order());
            }, Patience, () => Task.FromResult($"{logged.Count} logged, {accepted.Count} accepted"));
        Assert.All(accepted.GroupBy(w => w.Id), g => Assert.Single(g));
        Assert.Equal(logged.Select(e => e.GetProperty("id").GetString()).Order(), accepted.Select(w => w.Id).Order());
        Assert.All(happened, e => Assert.Contains(e.GetProperty("id").GetString(), accepted.Select(w => w.Id)));
        Assert.All(accepted, w => Assert.True(w.SignatureValid));
        Assert.Contains(accepted, w => Type(w) == "customer.merged");
        Assert.Contains(accepted, w => Type(w) == "alert.acknowledged");
    }

    [Fact]
    public async Task The_feed_pages_ten_thousand_events_with_no_gap_or_repeat_while_slow_and_fast_commits_interleave()
    {
        var (http, tenant) = await _pipeline.NewNamedTenant("feed");
        using var owned = http;
        const int total = 10_000;
        var written = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var connection = new NpgsqlConnectionStringBuilder(_pipeline.Isolation.Postgres) { Timeout = 60, CommandTimeout = 120 }.ConnectionString;
        // Eight writers as alerting writes: in transactions of 1-50 events; every fifth one stays open a while before it commits,
        // so later transactions commit first.
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            await using var db = new NpgsqlConnection(connection);
            await db.OpenAsync();
            var left = total / 8;
            var round = 0;
            while (left > 0)
            {
                var size = Math.Min(left, random.Next(1, 51));
                await using var tx = await db.BeginTransactionAsync();
                var ids = Enumerable.Range(0, size).Select(_ => Guid.CreateVersion7()).ToArray();
                await using (var cmd = new NpgsqlCommand("""
                    insert into alerting.event_log (tenant_id, event_id, type, occurred_at, body)
                    select @tenant, id, 'alert.raised', now(), json_build_object('type', 'alert.raised', 'id', id, 'tenant', @tenant, 'data', '{}'::json)::text
                    from unnest(@ids) id
                    """, db, tx))
                {
                    cmd.Parameters.AddWithValue("tenant", tenant);
                    cmd.Parameters.AddWithValue("ids", ids);
                    await cmd.ExecuteNonQueryAsync();
                }
                if (++round % 5 == 0)
                {
                    await Task.Delay(random.Next(100, 400));
                }
                await tx.CommitAsync();
                foreach (var id in ids)
                {
                    written.Add(id);
                }
                left -= size;
            }
        })).ToList();

        // The reader pages while they write, and on until it has every event.
        var seen = new List<(long Position, string Id)>();
        string? after = null;
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (seen.Count < total && DateTimeOffset.UtcNow < deadline)
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"v1/feed?limit=1000{(after is null ? "" : $"&after={after}")}");
            var items = page.GetProperty("items").EnumerateArray()
                .Select(i => (long.Parse(i.GetProperty("position").GetString()!), i.GetProperty("event").GetProperty("id").GetString()!)).ToList();
            seen.AddRange(items);
            after = page.GetProperty("next").GetString();
            if (items.Count == 0)
            {
                await Task.Delay(50);
            }
        }
        await Task.WhenAll(writers);

        Assert.Equal(total, written.Count);
        Assert.Equal(seen.Select(s => s.Position).Order(), seen.Select(s => s.Position)); // in position order across pages
        Assert.Equal(seen.Count, seen.Select(s => s.Id).Distinct().Count()); // no repeat
        Assert.Equal(written.Select(id => id.ToString()).Order(), seen.Select(s => s.Id).Order()); // no gap
        // Another tenant's feed holds none of them.
        using var other = await _pipeline.NewTenant("feed-other");
        Assert.Empty((await other.GetFromJsonAsync<JsonElement>("v1/feed?limit=1000")).GetProperty("items").EnumerateArray());
        using var bad = await http.GetAsync("v1/feed?types=alert.raised,nonsense&limit=0");
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty("types", out _) && problem.GetProperty("errors").TryGetProperty("limit", out _));
    }
}
