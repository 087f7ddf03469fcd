using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>Identity in depth through the gateway: settings, national numbers, shared identifiers, history, split and erasure.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class IdentityEndToEndTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;

    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("identity-e2e", async () => await TestPipeline.Create(await servers.Isolate("identity-e2e")));

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<HttpClient> NewTenant() => _pipeline.NewTenant("identity-test");

    private static object Contact(string id, object identifiers, string channel = "voice", int minutes = 0) => new
    {
        source = "identity-test", sourceEventId = id, contactId = id, channel, kind = "ended",
        occurredAt = DateTimeOffset.UtcNow.AddHours(-1).AddMinutes(minutes), identifiers,
    };

    private static Task<JsonElement> Customer(HttpClient http, string query, Func<JsonElement, bool> until) => TestPipeline.Customer(http, query, until);

    private static int Contacts(JsonElement customer) => customer.GetProperty("timeline").GetArrayLength();

    private static IEnumerable<Guid> ContactIds(JsonElement customer) =>
        customer.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("contactEventId").GetGuid());

    [Fact]
    public async Task Five_ways_of_writing_one_US_number_are_one_customer_under_the_tenants_region()
    {
        using var http = await NewTenant();
        var defaults = await http.GetFromJsonAsync<JsonElement>("v1/settings/identity");
        Assert.Equal(JsonValueKind.Null, defaults.GetProperty("defaultRegion").ValueKind);
        Assert.Equal(1, defaults.GetProperty("limits").GetProperty("crmId").GetInt32());

        using var invalid = await http.PutAsJsonAsync("v1/settings/identity", new { defaultRegion = "Mars", limits = new { crmId = 0 } });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var problem = await invalid.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("defaultRegion", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("limits.crmId", out _));

        using var put = await http.PutAsJsonAsync("v1/settings/identity", new { defaultRegion = "US" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("US", (await http.GetFromJsonAsync<JsonElement>("v1/settings/identity")).GetProperty("defaultRegion").GetString());

        string[] ways = ["(415) 555-0101", "415.555.0101", "+1 415 555 0101", "001 415 555 0101", "+14155550101"];
        for (var i = 0; i < ways.Length; i++)
        {
            await TestPipeline.Push(http, Contact($"us-{i}", new { phone = ways[i] }, minutes: i));
        }
        var customer = await Customer(http, "?phone=%28415%29%20555-0101", c => Contacts(c) == 5);
        Assert.Equal("+14155550101", Assert.Single(customer.GetProperty("identifiers").EnumerateArray()).GetProperty("value").GetString());

        using var impossible = await http.PostAsJsonAsync("v1/events", Contact("us-bad", new { phone = "+1 415 555 01" }));
        Assert.Equal(HttpStatusCode.BadRequest, impossible.StatusCode);
        Assert.Contains("possible phone number", (await impossible.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")
            .GetProperty("identifiers.phone")[0].GetString());
        using var lookup = await http.GetAsync("v1/customers?phone=555");
        Assert.Equal(HttpStatusCode.BadRequest, lookup.StatusCode);
    }

    [Fact]
    public async Task A_family_phone_leaves_two_people_apart_and_a_call_from_it_alone_is_held_as_ambiguous()
    {
        using var http = await NewTenant();
        await TestPipeline.Push(http, Contact("ana-1", new { phone = "+14155550123", email = "ana@family.example" }, "web_form"));
        var ana = await Customer(http, "?email=ana@family.example", c => Contacts(c) == 1);
        await TestPipeline.Push(http, Contact("ben-1", new { phone = "+14155550123", email = "ben@family.example" }, "web_form", 1));
        var ben = await Customer(http, "?email=ben@family.example", c => Contacts(c) == 1);
        Assert.NotEqual(ana.GetProperty("id").GetGuid(), ben.GetProperty("id").GetGuid());

        var (held, _) = await TestPipeline.Push(http, Contact("family-call", new { phone = "+1 415 555 0123" }, minutes: 2));
        ana = await Customer(http, $"/{ana.GetProperty("id").GetGuid()}", c => c.GetProperty("ambiguousContacts").GetArrayLength() == 1);
        ben = await Customer(http, $"/{ben.GetProperty("id").GetGuid()}", c => c.GetProperty("ambiguousContacts").GetArrayLength() == 1);
        Assert.Equal(held, ana.GetProperty("ambiguousContacts")[0].GetProperty("contactEventId").GetGuid());
        Assert.Equal(1, Contacts(ana));
        Assert.Equal(1, Contacts(ben));
        var phone = ana.GetProperty("identifiers").EnumerateArray().Single(i => i.GetProperty("type").GetString() == "phone");
        Assert.True(phone.GetProperty("shared").GetBoolean());
        Assert.Equal(ben.GetProperty("id").GetGuid(), Assert.Single(phone.GetProperty("sharedWith").EnumerateArray()).GetGuid());

        using var lookup = await http.GetAsync("v1/customers?phone=%2B14155550123");
        Assert.Equal(HttpStatusCode.Conflict, lookup.StatusCode);
        Assert.Equal(0, await _pipeline.Count("select count(*) from identity.outbox where body->>'contactEventId' = @id", ("id", held.ToString())));

        var history = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{ben.GetProperty("id").GetGuid()}/history");
        var kinds = history.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Equal(["created", "identifier_linked", "attached", "identifier_shared", "held_ambiguous"], kinds);
        var shared = history.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("kind").GetString() == "identifier_shared");
        Assert.Equal("limit: at most 1 email per customer", shared.GetProperty("rule").GetString());
        Assert.Equal("+14155550123", shared.GetProperty("identifier").GetProperty("value").GetString());
        var page = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{ben.GetProperty("id").GetGuid()}/history?limit=2");
        Assert.Equal(2, page.GetProperty("entries").GetArrayLength());
        var rest = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{ben.GetProperty("id").GetGuid()}/history?after={page.GetProperty("next").GetInt64()}");
        Assert.Equal(kinds.Skip(2), rest.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()));
    }

    [Fact]
    public async Task A_call_held_as_ambiguous_is_settled_by_a_later_event_of_the_same_call_that_names_the_caller_in_either_order()
    {
        using var http = await NewTenant();
        await TestPipeline.Push(http, Contact("ana-1", new { phone = "+14155550124", email = "ana@settle.example" }, "web_form"));
        var ana = await Customer(http, "?email=ana@settle.example", c => Contacts(c) == 1);
        await TestPipeline.Push(http, Contact("ben-1", new { phone = "+14155550124", email = "ben@settle.example" }, "web_form", 1));
        var ben = await Customer(http, "?email=ben@settle.example", c => Contacts(c) == 1);
        var (anaId, benId) = (ana.GetProperty("id").GetGuid(), ben.GetProperty("id").GetGuid());
        object Event(string call, string kind, int minutes, object identifiers) => new
        {
            source = "identity-test", sourceEventId = $"{call}-{kind}", contactId = call, channel = "voice", kind,
            occurredAt = DateTimeOffset.UtcNow.AddHours(-1).AddMinutes(minutes), identifiers,
        };

        // The call starts from the family phone alone: held between Ana and Ben. It ends with Ben's email: Ben's, both events.
        var (started, _) = await TestPipeline.Push(http, Event("call-1", "started", 2, new { phone = "+14155550124" }));
        await Customer(http, $"/{benId}", c => c.GetProperty("ambiguousContacts").GetArrayLength() == 1);
        var (ended, _) = await TestPipeline.Push(http, Event("call-1", "ended", 3, new { phone = "+14155550124", email = "ben@settle.example" }));
        ben = await Customer(http, $"/{benId}", c => Contacts(c) == 3);
        Assert.Contains(started, ContactIds(ben));
        Assert.Contains(ended, ContactIds(ben));
        Assert.Equal(0, ben.GetProperty("ambiguousContacts").GetArrayLength());
        ana = await Customer(http, $"/{anaId}", c => true);
        Assert.Equal(0, ana.GetProperty("ambiguousContacts").GetArrayLength());
        Assert.Equal(1, Contacts(ana));

        // In the other order: the event naming Ben first, then one from the family phone alone joins it.
        var (first, _) = await TestPipeline.Push(http, Event("call-2", "ended", 5, new { phone = "+14155550124", email = "ben@settle.example" }));
        var (late, _) = await TestPipeline.Push(http, Event("call-2", "started", 4, new { phone = "+14155550124" }));
        ben = await Customer(http, $"/{benId}", c => Contacts(c) == 5);
        Assert.Contains(first, ContactIds(ben));
        Assert.Contains(late, ContactIds(ben));

        // Effort was told of the settled events too: both calls are scored on Ben.
        await TestPipeline.Eventually(async () => await _pipeline.Count("""
            select count(*) from identity.outbox where message_type = 'Contacts.Contracts.ContactAttributed'
            and (body->>'contactEventId')::uuid = any(@ids) and (body->>'customerId')::uuid = @ben
            """, ("ids", new[] { started, ended, first, late }), ("ben", benId)) == 4, TimeSpan.FromSeconds(30), () => Task.FromResult("attributions"));
        var history = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{benId}/history?limit=100");
        Assert.Contains(history.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "attached"
            && e.GetProperty("rule").GetString() == "same contact: a later event of it settled the candidates");
        Assert.Contains(history.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "attached"
            && e.GetProperty("rule").GetString() == "same contact: its other events belong to this customer");
    }

    [Fact]
    public async Task A_merge_is_split_back_with_what_each_brought_and_the_same_evidence_never_merges_them_again()
    {
        using var http = await NewTenant();
        var (call, _) = await TestPipeline.Push(http, Contact("split-call", new { phone = "+14155550142" }));
        var first = await Customer(http, "?phone=%2B14155550142", c => Contacts(c) == 1);
        var (mail, _) = await TestPipeline.Push(http, Contact("split-mail", new { email = "carla@split.example" }, "email", 1));
        var second = await Customer(http, "?email=carla@split.example", c => Contacts(c) == 1);
        var (form, _) = await TestPipeline.Push(http, Contact("split-form", new { phone = "+14155550142", email = "carla@split.example" }, "web_form", 2));
        var merged = await Customer(http, "?phone=%2B14155550142", c => Contacts(c) == 3);
        var (survivor, absorbed) = (first.GetProperty("id").GetGuid(), second.GetProperty("id").GetGuid());
        Assert.Equal(survivor, merged.GetProperty("id").GetGuid());
        Assert.Equal(absorbed, Assert.Single(merged.GetProperty("mergedFrom").EnumerateArray()).GetGuid());
        var (later, _) = await TestPipeline.Push(http, Contact("split-later", new { email = "carla@split.example" }, "email", 3));
        await Customer(http, $"/{survivor}", c => Contacts(c) == 4);

        using var badBody = await http.PostAsJsonAsync($"v1/customers/{survivor}/split", new { });
        Assert.Equal(HttpStatusCode.BadRequest, badBody.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsJsonAsync($"v1/customers/{Guid.NewGuid()}/split", new { mergedCustomerId = absorbed })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsJsonAsync($"v1/customers/{absorbed}/split", new { mergedCustomerId = survivor })).StatusCode);

        using var split = await http.PostAsJsonAsync($"v1/customers/{survivor}/split", new { mergedCustomerId = absorbed });
        Assert.Equal(HttpStatusCode.OK, split.StatusCode);
        var result = await split.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(new[] { later }, result.GetProperty("reattributedContactEventIds").EnumerateArray().Select(e => e.GetGuid()));
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsJsonAsync($"v1/customers/{survivor}/split", new { mergedCustomerId = absorbed })).StatusCode);

        var left = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{survivor}");
        var right = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{absorbed}");
        Assert.Equal(new[] { call, form }.Order(), ContactIds(left).Order());
        Assert.Equal(new[] { mail, later }.Order(), ContactIds(right).Order());
        Assert.Equal(["+14155550142"], left.GetProperty("identifiers").EnumerateArray().Select(i => i.GetProperty("value").GetString()));
        Assert.Equal(["carla@split.example"], right.GetProperty("identifiers").EnumerateArray().Select(i => i.GetProperty("value").GetString()));
        Assert.Equal(absorbed, Assert.Single(left.GetProperty("distinctFrom").EnumerateArray()).GetGuid());
        Assert.Equal(1, await _pipeline.Count("select count(*) from identity.outbox where message_type like '%CustomerSplit' and body->>'restoredCustomerId' = @id",
            ("id", absorbed.ToString())));

        // The same evidence again: the pair stays apart, the identifier that would have joined them is shared.
        var (again, _) = await TestPipeline.Push(http, Contact("split-again", new { phone = "+14155550142", email = "carla@split.example" }, "web_form", 4));
        var shares = await Customer(http, $"/{absorbed}", c => c.GetProperty("identifiers").EnumerateArray().Any(i => i.GetProperty("shared").GetBoolean()));
        Assert.Empty(shares.GetProperty("mergedFrom").EnumerateArray());
        Assert.Empty((await http.GetFromJsonAsync<JsonElement>($"v1/customers/{survivor}")).GetProperty("mergedFrom").EnumerateArray());
        var history = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{survivor}/history");
        Assert.Contains(history.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "split");
        Assert.Contains(history.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "merged"
            && e.GetProperty("contactEventId").GetGuid() == form && e.GetProperty("rule").GetString()!.StartsWith("matched"));
        _ = again;
    }

    [Fact]
    public async Task An_erased_customer_is_gone_from_identity_and_ingestion_and_its_identifiers_start_afresh()
    {
        using var http = await NewTenant();
        var (a, _) = await TestPipeline.Push(http, Contact("erase-1", new { phone = "+14155550177", email = "dana@erase.example" }));
        var (b, _) = await TestPipeline.Push(http, Contact("erase-2", new { email = "dana@erase.example" }, "email", 1));
        var customer = await Customer(http, "?email=dana@erase.example", c => Contacts(c) == 2);
        var id = customer.GetProperty("id").GetGuid();
        Assert.Equal(2, await _pipeline.Count("select count(*) from ingestion.received_events where event_id = any(@ids)", ("ids", new[] { a, b })));

        using var erase = await http.DeleteAsync($"v1/customers/{id}");
        Assert.Equal(HttpStatusCode.Accepted, erase.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"v1/customers/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("v1/customers?email=dana@erase.example")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("v1/customers?phone=%2B14155550177")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"v1/customers/{id}")).StatusCode);
        var history = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{id}/history");
        var only = Assert.Single(history.GetProperty("entries").EnumerateArray());
        Assert.Equal("erased", only.GetProperty("kind").GetString());
        Assert.Equal(0, await _pipeline.Count("select count(*) from identity.customer_identifiers where value in ('+14155550177', 'dana@erase.example')"));
        Assert.Equal(0, await _pipeline.Count("select count(*) from identity.mt_events where data::text like '%dana@erase.example%'"));

        await TestPipeline.Eventually(async () =>
                await _pipeline.Count("select count(*) from ingestion.received_events where event_id = any(@ids)", ("ids", new[] { a, b })) == 0,
            TimeSpan.FromSeconds(30), () => Task.FromResult("ingestion still holds the erased customer's events"));
        Assert.Equal(1, await _pipeline.Count("""
            select count(*) from ingestion.inbox where consumer = 'ingestion-customer-erased' and message_id in (
                select id from identity.outbox where message_type = 'Contacts.Contracts.CustomerErased' and body->>'customerId' = @id)
            """, ("id", id.ToString())));

        await TestPipeline.Push(http, Contact("erase-3", new { email = "dana@erase.example" }, "email", 2));
        var fresh = await Customer(http, "?email=dana@erase.example", c => Contacts(c) == 1);
        Assert.NotEqual(id, fresh.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task The_listing_pages_through_the_tenants_current_customers_once_each_without_merged_or_erased_ones()
    {
        using var http = await NewTenant();
        using var other = await NewTenant();
        // Six people; then two of them turn out to be one (a contact naming both), and one is erased: four remain.
        // Person 1 is known by phone alone, the others by email.
        for (var i = 0; i < 6; i++)
        {
            await TestPipeline.Push(http, Contact($"list-{i}", i == 1 ? new { phone = "+14155550161" } : new { email = $"p{i}@list.example" }, "email", i));
        }
        var ids = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add((await Customer(http, i == 1 ? "?phone=%2B14155550161" : $"?email=p{i}@list.example", _ => true)).GetProperty("id").GetGuid());
        }
        await TestPipeline.Push(http, Contact("list-both", new { email = "p0@list.example", phone = "+14155550161" }, "email", 7));
        var merged = await Customer(http, "?email=p0@list.example", c => c.GetProperty("mergedFrom").GetArrayLength() == 1);
        var survivor = merged.GetProperty("id").GetGuid();
        var gone = ids.Single(id => id != survivor && (id == ids[0] || id == ids[1]));
        using (var erase = await http.DeleteAsync($"v1/customers/{ids[5]}"))
        {
            Assert.Equal(HttpStatusCode.Accepted, erase.StatusCode);
        }

        var listed = new List<Guid>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"v1/customers?limit=2{(after is null ? "" : $"&after={after}")}");
            var customers = page.GetProperty("customers").EnumerateArray().Select(c => c.GetProperty("id").GetGuid()).ToList();
            Assert.InRange(customers.Count, 0, 2);
            listed.AddRange(customers);
            after = page.TryGetProperty("next", out var next) && next.ValueKind != JsonValueKind.Null ? next.GetGuid().ToString() : null;
            pages++;
        }
        while (after is not null && pages < 10);
        Assert.Null(after);
        Assert.Equal(ids.Except([gone, ids[5]]).Order(), listed.Order());
        Assert.Equal(listed.Distinct().Count(), listed.Count);
        Assert.Empty((await other.GetFromJsonAsync<JsonElement>("v1/customers")).GetProperty("customers").EnumerateArray());

        foreach (var (query, field) in new[] { ("?limit=0", "limit"), ("?limit=501", "limit"), ("?after=nope", "after"), ("?email=p2@list.example&after=" + ids[2], "after") })
        {
            using var bad = await http.GetAsync("v1/customers" + query);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _), query);
        }
    }
}
