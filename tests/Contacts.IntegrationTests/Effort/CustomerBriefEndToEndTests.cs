using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>
/// The customer's story through the gateway (GET /v1/customers/{id}/brief): what they said and were promised on each
/// contact, told in order, the channels tried, the identifier types they already gave, and where each promise stands;
/// right across a merge, a split and an erasure, and not visible to another tenant.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class CustomerBriefEndToEndTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;

    // The identity tests' pipeline, with tenants of its own: a brief needs nothing a second pipeline would add.
    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("identity-e2e", async () => await TestPipeline.Create(await servers.Isolate("identity-e2e")));

    public Task DisposeAsync() => Task.CompletedTask;

    private static async Task<JsonElement> Brief(HttpClient http, Guid id, Func<JsonElement, bool> until)
    {
        JsonElement brief = default;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers/{id}/brief");
            return response.StatusCode == HttpStatusCode.OK && until(brief = await response.Content.ReadFromJsonAsync<JsonElement>());
        }, TimeSpan.FromSeconds(60), () => Task.FromResult($"brief of {id} so far: {brief}"));
        return brief;
    }

    private static JsonElement[] Told(JsonElement brief) =>
        brief.GetProperty("journey") is { ValueKind: JsonValueKind.Object } journey ? [.. journey.GetProperty("contacts").EnumerateArray()] : [];

    private static string[] Summaries(JsonElement brief) => [.. Told(brief).Select(c => c.GetProperty("summary").GetString() ?? "(none)")];

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    [Fact]
    public async Task A_call_with_a_callback_promised_then_an_email_giving_the_phone_then_a_chat_is_told_in_order_and_stays_right_through_merge_split_and_erasure()
    {
        using var http = await _pipeline.NewTenant("brief-test");
        var run = Guid.NewGuid().ToString("N")[..8];
        var n = Random.Shared.Next(1000, 9999);
        var (phone, email, account) = ($"+44 20 7946 {n}", $"ana.{run}@brief.example", $"ACC-{run}");
        var now = DateTimeOffset.UtcNow;
        var due = now.AddHours(2);
        var said = new Dictionary<Guid, string>();
        async Task<Guid> Push(string name, string channel, object identifiers, TimeSpan ago, string? summary, string direction = "inbound",
            string? outcome = null, object? promise = null)
        {
            var (id, _) = await TestPipeline.Push(http, new
            {
                source = "brief-test", sourceEventId = $"{run}-{name}", contactId = $"{run}-{name}", channel, direction,
                kind = channel == "voice" ? "ended" : "message", occurredAt = now - ago, identifiers, summary, outcome, promise,
            });
            if (summary is not null)
            {
                said[id] = summary;
            }
            return id;
        }

        // The call: what it was about, and a callback promised within two hours.
        var call = await Push("call", "voice", new { phone }, TimeSpan.FromMinutes(50), $"Charged twice for October ({run}); refund asked",
            outcome: "callback_promised", promise: new { kind = "callback", dueAt = due });
        var anaId = (await TestPipeline.Customer(http, $"?phone={Uri.EscapeDataString(phone)}")).GetProperty("id").GetGuid();
        // An email from an address we had not seen, giving the phone; then a chat from that address.
        await Push("mail", "email", new { email, phone }, TimeSpan.FromMinutes(40), $"Sent the October invoice ({run})");
        // Stitched before the chat goes in: a chat taken first would be a customer of its own, merged in by the email later
        // (right, but not the story this test tells).
        await TestPipeline.Customer(http, $"?email={Uri.EscapeDataString(email)}");
        await Push("chat", "chat", new { email }, TimeSpan.FromMinutes(30), $"Asked where the refund is ({run})");

        var brief = await Brief(http, anaId, b => Told(b).Length == 3);
        Assert.Equal(anaId, brief.GetProperty("customerId").GetGuid());
        Assert.Equal([$"Charged twice for October ({run}); refund asked", $"Sent the October invoice ({run})", $"Asked where the refund is ({run})"],
            Summaries(brief));
        Assert.Equal(["voice", "email", "chat"], Told(brief).Select(c => c.GetProperty("channel").GetString()));
        Assert.Equal(["voice", "email", "chat"], Strings(brief.GetProperty("channelsTried")));
        Assert.Equal(["phone", "email"], Strings(brief.GetProperty("doNotAskAgain")));
        Assert.Equal("callback_promised", Told(brief)[0].GetProperty("outcome").GetString());
        var promise = Assert.Single(Told(brief)[0].GetProperty("promises").EnumerateArray());
        Assert.Equal(("callback", "open", true), (promise.GetProperty("kind").GetString(), promise.GetProperty("status").GetString(), promise.GetProperty("open").GetBoolean()));
        Assert.Equal(due.ToUnixTimeSeconds(), promise.GetProperty("dueAt").GetDateTimeOffset().ToUnixTimeSeconds());
        Assert.Equal($"brief-test:{run}-call", Assert.Single(brief.GetProperty("openPromises").EnumerateArray()).GetProperty("contactId").GetString());
        Assert.True(brief.GetProperty("score").GetInt32() > 0, brief.ToString());
        Assert.Contains(brief.GetProperty("drivers").EnumerateArray(), d => d.GetProperty("name").GetString() == "channel_switch");
        // Types only: the brief never repeats a value.
        Assert.DoesNotContain(email, brief.GetRawText());
        Assert.DoesNotContain($"7946 {n}", brief.GetRawText());
        Assert.DoesNotContain($"7946{n}", brief.GetRawText());

        // Another tenant cannot read it.
        using (var other = await _pipeline.NewTenant("brief-other"))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/customers/{anaId}/brief")).StatusCode);
        }

        // A web form under an account number alone is another customer, with a story of its own ...
        var form = await Push("form", "web_form", new { accountNumber = account }, TimeSpan.FromMinutes(45), $"Web form about the double charge ({run})");
        var formerId = (await TestPipeline.Customer(http, $"?accountNumber={account}")).GetProperty("id").GetGuid();
        Assert.NotEqual(anaId, formerId);
        Assert.Equal([$"Web form about the double charge ({run})"], Summaries(await Brief(http, formerId, b => Told(b).Length == 1)));
        // ... until a contact names the account and the email: one customer, whose brief either id answers, in time order.
        var joined = await Push("joined", "chat", new { accountNumber = account, email }, TimeSpan.FromMinutes(20), $"Gave the account number ({run})");
        var merged = await TestPipeline.Customer(http, $"?accountNumber={account}", c => c.GetProperty("mergedFrom").GetArrayLength() == 1);
        var survivor = merged.GetProperty("id").GetGuid();
        var absorbed = Assert.Single(merged.GetProperty("mergedFrom").EnumerateArray()).GetGuid();
        Assert.Equal(new[] { anaId, formerId }.Order(), new[] { survivor, absorbed }.Order());
        var mergedBrief = await Brief(http, absorbed, b => Told(b).Length == 5);
        Assert.Equal(survivor, mergedBrief.GetProperty("customerId").GetGuid());
        Assert.Equal(absorbed, mergedBrief.GetProperty("requestedId").GetGuid());
        Assert.Equal([$"Charged twice for October ({run}); refund asked", $"Web form about the double charge ({run})", $"Sent the October invoice ({run})",
            $"Asked where the refund is ({run})", $"Gave the account number ({run})"], Summaries(mergedBrief));
        Assert.Equal(["phone", "email", "accountNumber"], Strings(mergedBrief.GetProperty("doNotAskAgain")));
        Assert.Single(mergedBrief.GetProperty("openPromises").EnumerateArray());

        // Split back: each side tells only the contacts identity gives it.
        using (var split = await http.PostAsJsonAsync($"v1/customers/{survivor}/split", new { mergedCustomerId = absorbed }))
        {
            Assert.Equal(HttpStatusCode.OK, split.StatusCode);
        }
        foreach (var side in new[] { survivor, absorbed })
        {
            var customer = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{side}");
            var expected = customer.GetProperty("timeline").EnumerateArray().OrderBy(t => t.GetProperty("occurredAt").GetDateTimeOffset())
                .Select(t => said[t.GetProperty("contactEventId").GetGuid()]).ToArray();
            var sideBrief = await Brief(http, side, b => Summaries(b).SequenceEqual(expected));
            Assert.Equal(side, sideBrief.GetProperty("customerId").GetGuid());
            Assert.Equal(expected.Contains($"Charged twice for October ({run}); refund asked") ? 1 : 0, sideBrief.GetProperty("openPromises").GetArrayLength());
        }

        // The callback is made: the promise is kept and no longer open.
        var anaSide = (await TestPipeline.Customer(http, $"?phone={Uri.EscapeDataString(phone)}")).GetProperty("id").GetGuid();
        await Push("callback", "voice", new { phone }, TimeSpan.FromMinutes(5), null, direction: "outbound");
        var kept = await Brief(http, anaSide, b => b.GetProperty("openPromises").GetArrayLength() == 0);
        var keptPromise = Told(kept).SelectMany(c => c.GetProperty("promises").EnumerateArray()).Single();
        Assert.Equal(("kept", false, $"brief-test:{run}-callback"),
            (keptPromise.GetProperty("status").GetString(), keptPromise.GetProperty("open").GetBoolean(), keptPromise.GetProperty("keptBy").GetString()));

        // Erased: the brief is gone with the customer.
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"v1/customers/{anaSide}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"v1/customers/{anaSide}/brief")).StatusCode);
        _ = (call, form, joined);
    }
}
