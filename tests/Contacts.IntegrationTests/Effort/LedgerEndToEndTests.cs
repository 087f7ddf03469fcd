using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>
/// Moments of truth and the loyalty account through the gateway (GET /v1/customers/{id}/ledger, /v1/settings/moments, the
/// brief): a callback promised and never made is a misery moment and a withdrawal once it falls due; a CES answer of 7 is
/// magic and a deposit; a merge interleaves both customers' entries in time order, a split recomputes each side and an
/// erasure takes the account with the customer. A subscriber gets one moment.misery, one ledger.balance_low and the alert
/// promise_broken. On the subscriptions' pipeline (its stand-in CRM is on loopback).
/// </summary>
public sealed partial class SubscriptionEndToEndTests
{
    private static async Task<JsonElement> Ledger(HttpClient http, Guid id, Func<JsonElement, bool> until)
    {
        JsonElement ledger = default;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers/{id}/ledger");
            return response.StatusCode == HttpStatusCode.OK && until(ledger = await response.Content.ReadFromJsonAsync<JsonElement>());
        }, TimeSpan.FromSeconds(60), () => Task.FromResult($"ledger of {id} so far: {ledger}"));
        return ledger;
    }

    private static (string Contact, string Reason, int Amount, int Balance)[] LedgerEntries(JsonElement ledger) =>
    [
        .. ledger.GetProperty("entries").EnumerateArray().Select(e => (e.GetProperty("contactId").GetString()!, e.GetProperty("reason").GetString()!,
            e.GetProperty("amount").GetInt32(), e.GetProperty("balance").GetInt32())),
    ];

    [Fact]
    public async Task A_callback_never_made_withdraws_once_due_a_CES_of_7_deposits_and_merge_split_and_erasure_keep_the_account_right()
    {
        using var http = await _pipeline.NewTenant("ledger-test");
        await using var crm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        await SubscribeOk(http, crm, "moment.misery", "ledger.balance_low", "alert.raised");
        var run = Guid.NewGuid().ToString("N")[..8];
        var n = Random.Shared.Next(1000, 9999);
        var (phone, email, account) = ($"+44 20 7946 {n}", $"lee.{run}@ledger.example", $"ACC-{run}");
        var now = DateTimeOffset.UtcNow;

        // The tenant's floor: 40 (a single broken promise takes the account from 50 to 30, below it). Bad settings name the field.
        using (var bad = await http.PutAsJsonAsync("v1/settings/moments", new { floor = 101, thresholds = new { magicCes = 9 }, amounts = new { } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.True(errors.TryGetProperty("floor", out _) && errors.TryGetProperty("thresholds.magicCes", out _), errors.ToString());
        }
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var put = await http.PutAsJsonAsync("v1/settings/moments", new { floor = 40, thresholds = new { }, amounts = new { } });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        var settings = await http.GetFromJsonAsync<JsonElement>("v1/settings/moments");
        Assert.Equal(40, settings.GetProperty("settings").GetProperty("floor").GetInt32());
        Assert.Equal(1, settings.GetProperty("history").GetArrayLength()); // the same settings again added no change

        async Task<Guid> Push(string name, string channel, object identifiers, DateTimeOffset at, string kind = "message", object? promise = null,
            string? outcome = null, object? survey = null, string? contactId = null) =>
            (await TestPipeline.Push(http, new
            {
                source = "ledger-test", sourceEventId = $"{run}-{name}", contactId = contactId ?? $"{run}-{name}", channel, direction = "inbound", kind,
                occurredAt = at, identifiers, promise, outcome, survey,
            })).Id;

        // A call with a callback promised in a few seconds, no callback, then an email that is answered.
        var due = DateTimeOffset.UtcNow.AddSeconds(4);
        await Push("call", "voice", new { phone }, now.AddMinutes(-2), "ended", promise: new { kind = "callback", dueAt = due }, outcome: "callback_promised");
        var leeId = (await TestPipeline.Customer(http, $"?phone={Uri.EscapeDataString(phone)}")).GetProperty("id").GetGuid();
        await Push("mail", "email", new { email, phone }, now.AddMinutes(-1), outcome: "resolved");

        static int Contacts(JsonElement l) => l.GetProperty("moments").EnumerateObject().Sum(kind => kind.Value.GetInt32());
        var before = await Ledger(http, leeId, l => Contacts(l) == 2);
        if (before.GetProperty("asOf").GetDateTimeOffset() < due)
        {
            Assert.Empty(LedgerEntries(before)); // not due yet: nothing broken
            Assert.Equal(50, before.GetProperty("balance").GetInt32());
        }
        // Once due, the promising call is misery: one withdrawal with its contact id, the account below the floor.
        var broken = await Ledger(http, leeId, l => l.GetProperty("entries").GetArrayLength() > 0);
        Assert.Equal([($"ledger-test:{run}-call", "promise_broken", -20, 30)], LedgerEntries(broken));
        Assert.Equal((30, true, 1), (broken.GetProperty("balance").GetInt32(), broken.GetProperty("low").GetBoolean(),
            broken.GetProperty("moments").GetProperty("misery").GetInt32()));
        var last = broken.GetProperty("lastMoment");
        Assert.Equal(($"ledger-test:{run}-call", "misery"), (last.GetProperty("contactId").GetString(), last.GetProperty("kind").GetString()));
        // A subscriber hears of it: the moment, the fall below the floor, and an alert promise_broken.
        bool PromiseBrokenAlert(ReceivedWebhook w) => Type(w) == "alert.raised" && Data(w).GetProperty("reason").GetString() == "promise_broken";
        await TestPipeline.Eventually(() => Task.FromResult(crm.Received.Any(w => Type(w) == "moment.misery")
                && crm.Received.Any(w => Type(w) == "ledger.balance_low") && crm.Received.Any(PromiseBrokenAlert)), Patience,
            () => Task.FromResult($"the CRM got {string.Join(", ", crm.Received.Select(Type))}"));
        var moment = Data(crm.Received.Single(w => Type(w) == "moment.misery"));
        Assert.Equal(($"ledger-test:{run}-call", "promise_broken", leeId),
            (moment.GetProperty("contactId").GetString(), Assert.Single(moment.GetProperty("reasons").EnumerateArray()).GetString(), moment.GetProperty("customerId").GetGuid()));
        var low = Data(crm.Received.Single(w => Type(w) == "ledger.balance_low"));
        Assert.Equal((30, 40, $"ledger-test:{run}-call"), (low.GetProperty("balance").GetInt32(), low.GetProperty("floor").GetInt32(), low.GetProperty("contactId").GetString()));
        var alert = Data(crm.Received.Single(PromiseBrokenAlert));
        Assert.Equal(("promise_broken", leeId), (alert.GetProperty("reason").GetString(), alert.GetProperty("customerId").GetGuid()));
        var alertId = alert.GetProperty("alertId").GetGuid();

        // The agent's brief shows it.
        var brief = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{leeId}/brief");
        Assert.Equal((30, 40, true), (brief.GetProperty("loyalty").GetProperty("balance").GetInt32(), brief.GetProperty("loyalty").GetProperty("floor").GetInt32(),
            brief.GetProperty("loyalty").GetProperty("low").GetBoolean()));
        Assert.Equal(["promise_broken"], brief.GetProperty("lastMoment").GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
        Assert.DoesNotContain(email, brief.GetRawText());

        // Another customer (an account number alone): a web form, and its CES answer of 7 an hour later: magic, a deposit.
        await Push("form", "web_form", new { accountNumber = account }, now.AddHours(-3));
        await Push("form-survey", "web_form", new { accountNumber = account }, now.AddHours(-2), "survey_answered", survey: new { cesScore = 7 },
            contactId: $"{run}-form");
        var formId = (await TestPipeline.Customer(http, $"?accountNumber={account}")).GetProperty("id").GetGuid();
        var magic = await Ledger(http, formId, l => l.GetProperty("entries").GetArrayLength() == 1);
        Assert.Equal([($"ledger-test:{run}-form", "easy_ces", 5, 55)], LedgerEntries(magic));

        // A chat naming the account and the email merges them: the entries interleave in time order, from either id.
        await Push("joined", "chat", new { accountNumber = account, email }, now.AddSeconds(-30), outcome: "resolved");
        var merged = await TestPipeline.Customer(http, $"?accountNumber={account}", c => c.GetProperty("mergedFrom").GetArrayLength() == 1);
        var survivor = merged.GetProperty("id").GetGuid();
        var absorbed = Assert.Single(merged.GetProperty("mergedFrom").EnumerateArray()).GetGuid();
        (string, string, int, int)[] interleaved = [($"ledger-test:{run}-form", "easy_ces", 5, 55), ($"ledger-test:{run}-call", "promise_broken", -20, 35)];
        foreach (var id in new[] { survivor, absorbed })
        {
            var both = await Ledger(http, id, l => l.GetProperty("entries").GetArrayLength() == 2);
            Assert.Equal(survivor, both.GetProperty("customerId").GetGuid());
            Assert.Equal(interleaved, LedgerEntries(both));
            Assert.Equal(35, both.GetProperty("balance").GetInt32());
        }
        // Paged one at a time, the same entries in the same order.
        var first = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{survivor}/ledger?limit=1");
        var second = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{survivor}/ledger?limit=1&after={first.GetProperty("next").GetString()}");
        Assert.Equal(interleaved, LedgerEntries(first).Concat(LedgerEntries(second)).ToArray());
        Assert.False(second.TryGetProperty("next", out var next) && next.ValueKind != JsonValueKind.Null, $"a next page after the last: {second}");
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"v1/customers/{survivor}/ledger?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"v1/customers/{survivor}/ledger?after=nonsense")).StatusCode);

        // Split back: each side's account holds only its own contacts' moments.
        using (var split = await http.PostAsJsonAsync($"v1/customers/{survivor}/split", new { mergedCustomerId = absorbed }))
        {
            Assert.Equal(HttpStatusCode.OK, split.StatusCode);
        }
        var leeSide = await Ledger(http, leeId, l => l.GetProperty("customerId").GetGuid() == leeId && l.GetProperty("entries").GetArrayLength() == 1);
        Assert.Equal([($"ledger-test:{run}-call", "promise_broken", -20, 30)], LedgerEntries(leeSide));
        var formSide = await Ledger(http, formId, l => l.GetProperty("customerId").GetGuid() == formId && l.GetProperty("entries").GetArrayLength() == 1);
        Assert.Equal([($"ledger-test:{run}-form", "easy_ces", 5, 55)], LedgerEntries(formSide));

        // Through merge and split nothing was announced twice, and the alert went with the contact that broke the promise.
        await Task.Delay(TimeSpan.FromSeconds(2)); // the watch looks every second: time for a wrong second announcement to arrive
        Assert.Equal(1, crm.Received.Count(w => Type(w) == "moment.misery"));
        Assert.Equal(1, crm.Received.Count(w => Type(w) == "ledger.balance_low"));
        // (The merged journey's four channels may raise high_effort beside it: a rule of its own.)
        Assert.Equal(1, crm.Received.Count(PromiseBrokenAlert));
        var followed = await http.GetFromJsonAsync<JsonElement>($"v1/alerts/{alertId}");
        Assert.Equal((leeId, "open"), (followed.GetProperty("customerId").GetGuid(), followed.GetProperty("status").GetString()));

        // Another tenant cannot read it; erased, it is gone.
        using (var other = await _pipeline.NewTenant("ledger-other"))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/customers/{leeId}/ledger")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"v1/customers/{leeId}")).StatusCode);
        await TestPipeline.Eventually(async () => (await http.GetAsync($"v1/customers/{leeId}/ledger")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => Task.FromResult("the erased customer's ledger still answers"));
    }
}
