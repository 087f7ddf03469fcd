using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>
/// Each service's HTTP API on its own, in memory (WebApplicationFactory over the service's Program) on the real PostgreSQL
/// and RabbitMQ: what a request gets and what it leaves stored, without the gateway or the other services. Faster and
/// nearer the code than the end-to-end tests, which still prove the whole path.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Api")]
public sealed class ServiceApiTests(ServersFixture servers)
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement;
    }

    private static IEnumerable<string> ErrorFields(JsonElement problem) => problem.GetProperty("errors").EnumerateObject().Select(e => e.Name);

    [Fact]
    public async Task Ingestion_refuses_a_request_that_did_not_come_through_the_gateway_and_stores_nothing()
    {
        await using var host = await ServiceHost<Contacts.Ingestion.Events.ContactEventV1>.Start(servers, "api_ingestion_key");
        using var anonymous = host.CreateClient();
        var problem = await Problem(await anonymous.PostAsync("/v1/events", Json(Event("e-1"))), HttpStatusCode.Unauthorized);
        Assert.Equal("No tenant", problem.GetProperty("title").GetString());
        using var wrongKey = host.CreateClient();
        wrongKey.DefaultRequestHeaders.Add(Contacts.ServiceDefaults.Tenancy.Tenant.InternalKeyHeader, host.InternalKey + "0");
        wrongKey.DefaultRequestHeaders.Add(Contacts.ServiceDefaults.Tenancy.Tenant.Header, "acme");
        await Problem(await wrongKey.PostAsync("/v1/events", Json(Event("e-1"))), HttpStatusCode.Unauthorized);
        Assert.Equal(0L, await host.Scalar<long>("ingestion", "select count(*) from received_events"));
    }

    [Fact]
    public async Task Ingestion_names_each_bad_field_stores_nothing_of_a_bad_event_and_stores_a_good_one_once()
    {
        await using var host = await ServiceHost<Contacts.Ingestion.Events.ContactEventV1>.Start(servers, "api_ingestion_events");
        using var http = host.For("acme");

        var bad = await Problem(await http.PostAsync("/v1/events", Json("""{"channel":"voice","direction":"inbound","kind":"ended"}""")),
            HttpStatusCode.BadRequest);
        Assert.Superset(new HashSet<string> { "source", "occurredAt", "identifiers" }, ErrorFields(bad).ToHashSet());
        Assert.Equal(0L, await host.Scalar<long>("ingestion", "select count(*) from received_events"));

        using var first = await http.PostAsync("/v1/events", Json(Event("e-2")));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var accepted = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(accepted.GetProperty("duplicate").GetBoolean());
        using var again = await http.PostAsync("/v1/events", Json(Event("e-2")));
        var repeat = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(repeat.GetProperty("duplicate").GetBoolean());
        Assert.Equal(accepted.GetProperty("id").GetGuid(), repeat.GetProperty("id").GetGuid());
        Assert.Equal(1L, await host.Scalar<long>("ingestion", "select count(*) from received_events where tenant_id = @t", ("t", "acme")));
    }

    [Fact]
    public async Task Alerting_subscriptions_are_idempotent_by_key_paged_by_cursor_and_kept_per_tenant()
    {
        await using var host = await ServiceHost<Contacts.Alerting.Settings.AlertingSettingsStore>.Start(servers, "api_alerting_subs",
            new Dictionary<string, string?> { ["Alerting:Webhook:AllowPrivateAddresses"] = "true" });
        using var http = host.For("acme");

        var body = """{"url":"http://127.0.0.1:9/crm","events":["alert.raised"]}""";
        async Task<HttpResponseMessage> Create(string key, string json)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/subscriptions/") { Content = Json(json) };
            request.Headers.Add("Idempotency-Key", key);
            return await http.SendAsync(request);
        }
        using var created = await Create("k-1", body);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var first = await created.Content.ReadFromJsonAsync<JsonElement>();
        using var retried = await Create("k-1", body);
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.Equal(first.GetProperty("id").GetGuid(), (await retried.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        using var retriedAgain = await Create("k-1", body);
        Assert.Equal(first.GetProperty("secret").GetString(), (await retriedAgain.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString());
        using var reused = await Create("k-1", """{"url":"http://127.0.0.1:9/other","events":["alert.raised"]}""");
        await Problem(reused, HttpStatusCode.UnprocessableEntity);
        using var second = await Create("k-2", body);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal(2L, await host.Scalar<long>("alerting", "select count(*) from webhook_subscriptions where tenant_id = 'acme'"));

        // Two subscriptions, one per page: the cursor leads to the second and the second page has none after it.
        var page1 = await http.GetFromJsonAsync<JsonElement>("/v1/subscriptions/?limit=1");
        var next = page1.GetProperty("next").GetString();
        var page2 = await http.GetFromJsonAsync<JsonElement>($"/v1/subscriptions/?limit=1&after={next}");
        Assert.Equal(JsonValueKind.Null, page2.TryGetProperty("next", out var end) ? end.ValueKind : JsonValueKind.Null);
        Assert.NotEqual(page1.GetProperty("items")[0].GetProperty("id").GetGuid(), page2.GetProperty("items")[0].GetProperty("id").GetGuid());
        Assert.Contains("limit", ErrorFields(await Problem(await http.GetAsync("/v1/subscriptions/?limit=0"), HttpStatusCode.BadRequest)));
        Assert.Contains("after", ErrorFields(await Problem(await http.GetAsync("/v1/subscriptions/?after=nope"), HttpStatusCode.BadRequest)));

        // Another tenant sees none of them, and cannot read or delete one by id.
        using var other = host.For("globex");
        Assert.Equal(0, (await other.GetFromJsonAsync<JsonElement>("/v1/subscriptions/")).GetProperty("items").GetArrayLength());
        var id = first.GetProperty("id").GetGuid();
        await Problem(await other.GetAsync($"/v1/subscriptions/{id}"), HttpStatusCode.NotFound);
        await Problem(await other.DeleteAsync($"/v1/subscriptions/{id}"), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/subscriptions/{id}")).StatusCode);
        Assert.Equal(1L, await host.Scalar<long>("alerting", "select count(*) from webhook_subscriptions where tenant_id = 'acme'"));
    }

    [Fact]
    public async Task Identity_lists_a_tenants_customers_by_page_and_names_a_bad_paging_parameter()
    {
        await using var host = await ServiceHost<Contacts.Identity.Customers.CustomerView>.Start(servers, "api_identity");
        using var http = host.For("acme");
        var empty = await http.GetFromJsonAsync<JsonElement>("/v1/customers/");
        Assert.Equal(0, empty.GetProperty("customers").GetArrayLength());
        foreach (var (query, field) in new[] { ("?limit=0", "limit"), ("?limit=501", "limit"), ("?after=nope", "after"), ("?phone=%2B442079460958&limit=5", "limit") })
        {
            Assert.Contains(field, ErrorFields(await Problem(await http.GetAsync($"/v1/customers/{query}"), HttpStatusCode.BadRequest)));
        }
        await Problem(await http.GetAsync($"/v1/customers/{Guid.CreateVersion7()}"), HttpStatusCode.NotFound);
        await Problem(await http.GetAsync($"/v1/customers/{Guid.CreateVersion7()}/history?after=-1"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Effort_moment_settings_name_a_bad_field_keep_the_last_good_ones_and_read_back_what_was_put()
    {
        await using var host = await ServiceHost<Contacts.Effort.Reads.CustomerEffortView>.Start(servers, "api_effort");
        using var http = host.For("acme");
        var defaults = await http.GetFromJsonAsync<JsonElement>("/v1/settings/moments");
        await Problem(await http.PutAsync("/v1/settings/moments", Json("""{"floor":"low"}""")), HttpStatusCode.BadRequest);
        await Problem(await http.PutAsync("/v1/settings/moments", new StringContent("floor=10", Encoding.UTF8, "text/plain")),
            HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(defaults.GetRawText(), (await http.GetFromJsonAsync<JsonElement>("/v1/settings/moments")).GetRawText());

        using var put = await http.PutAsync("/v1/settings/moments", Json("""{"floor":35}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var read = await http.GetFromJsonAsync<JsonElement>("/v1/settings/moments");
        Assert.Equal(35, read.GetProperty("settings").GetProperty("floor").GetInt32());
        // Another tenant still has the defaults.
        using var other = host.For("globex");
        Assert.Equal(defaults.GetProperty("settings").GetRawText(),
            (await other.GetFromJsonAsync<JsonElement>("/v1/settings/moments")).GetProperty("settings").GetRawText());
    }

    private static string Event(string id) => JsonSerializer.Serialize(new
    {
        source = "web", sourceEventId = id, contactId = id, channel = "web_form", direction = "inbound", kind = "message",
        occurredAt = DateTimeOffset.UtcNow.AddMinutes(-5), identifiers = new { email = $"{id}@example.com" },
    });
}
