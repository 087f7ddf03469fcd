using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using Json.Schema;

namespace Contacts.IntegrationTests;

/// <summary>
/// CRMs stay in sync through the gateway: a stand-in CRM subscribed to customer.* seeds its records from the customer
/// listing and applies each change it receives (merge, split, erasure); it ends with the customers the listing pages
/// through. Every body delivered (alerts, customer events, the test event) meets the event catalog's schema for its type;
/// a subscription that named no events gets no customer event; another tenant's changes reach only that tenant.
/// </summary>
public sealed partial class SubscriptionEndToEndTests
{
    private static object Contact(string id, object identifiers, int minutes) => new
    {
        source = "sync-test", sourceEventId = id, contactId = id, channel = "email", kind = "message",
        occurredAt = DateTimeOffset.UtcNow.AddHours(-2).AddMinutes(minutes), identifiers,
    };

    private static async Task<Guid> CustomerId(HttpClient http, string query) =>
        (await TestPipeline.Customer(http, query, patience: Patience)).GetProperty("id").GetGuid();

    private static async Task<HashSet<Guid>> Listing(HttpClient http)
    {
        var ids = new HashSet<Guid>();
        string? after = null;
        do
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"v1/customers?limit=2{(after is null ? "" : $"&after={after}")}");
            foreach (var c in page.GetProperty("customers").EnumerateArray())
            {
                Assert.True(ids.Add(c.GetProperty("id").GetGuid()), "a customer listed twice");
            }
            after = page.TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (after is not null);
        return ids;
    }

    private static JsonElement Body(ReceivedWebhook w) => JsonDocument.Parse(w.Body).RootElement;

    private static IEnumerable<ReceivedWebhook> OfType(CrmWebhookReceiver crm, string prefix) =>
        crm.Received.Where(w => Body(w).GetProperty("type").GetString()!.StartsWith(prefix, StringComparison.Ordinal));

    [Fact]
    public async Task A_CRM_following_customer_events_ends_with_the_listings_customers_and_every_body_meets_the_catalog()
    {
        using var http = await _pipeline.NewTenant("sync-test");
        using var other = await _pipeline.NewTenant("sync-test");
        await using var crm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        await using var alertsOnly = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        await using var otherCrm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        var (crmSubscription, _) = await SubscribeOk(http, crm, "customer.merged", "customer.split", "customer.erased");
        await SubscribeOk(http, alertsOnly);
        await SubscribeOk(other, otherCrm, "customer.merged", "customer.split", "customer.erased");
        var (queued, queuedResponse) = await Subscribe(http, new { type = "amqp", events = new[] { "customer.erased" } });
        Assert.Equal(HttpStatusCode.Created, queuedResponse.StatusCode);
        var (queueUri, queue) = (queued.GetProperty("amqp").GetProperty("uri").GetString()!, queued.GetProperty("amqp").GetProperty("queue").GetString()!);

        // Four people: Ana by email, Ben by phone (so one contact can join them), Cy and Dee by email; and one of the other tenant.
        var run = Guid.NewGuid().ToString("N")[..8];
        var (ana, ben, cy, dee) = ($"ana.{run}@sync.example", $"+1415555{Random.Shared.Next(1000, 9999)}", $"cy.{run}@sync.example", $"dee.{run}@sync.example");
        await TestPipeline.Push(http, Contact($"{run}-1", new { email = ana }, 0));
        await TestPipeline.Push(http, Contact($"{run}-2", new { phone = ben }, 1));
        await TestPipeline.Push(http, Contact($"{run}-3", new { email = cy }, 2));
        await TestPipeline.Push(http, Contact($"{run}-4", new { email = dee }, 3));
        await TestPipeline.Push(other, Contact($"{run}-o", new { email = ana }, 0));
        var deeId = await CustomerId(http, $"?email={dee}");
        await CustomerId(http, $"?email={ana}");
        await CustomerId(http, $"?phone={Uri.EscapeDataString(ben)}");
        await CustomerId(http, $"?email={cy}");
        var otherId = await CustomerId(other, $"?email={ana}");

        // The CRM starts from the listing.
        var records = await Listing(http);
        Assert.Equal(4, records.Count);

        // Ana and Ben turn out to be one; the merge is reverted; Dee is erased. The other tenant erases its customer.
        await TestPipeline.Push(http, Contact($"{run}-5", new { email = ana, phone = ben }, 4));
        await TestPipeline.Eventually(() => Task.FromResult(OfType(crm, "customer.merged").Any()), Patience, () => Task.FromResult("no customer.merged"));
        var merged = Body(OfType(crm, "customer.merged").First()).GetProperty("data");
        // The identifier that joined them: the phone (Ben's) or the email (Ana's), by name, never by value.
        var joinedBy = Assert.Single(merged.GetProperty("identifierTypes").EnumerateArray()).GetString();
        Assert.Contains(joinedBy, new[] { "email", "phone" });
        Assert.DoesNotContain(ben, merged.GetRawText());
        using (var split = await http.PostAsJsonAsync($"v1/customers/{merged.GetProperty("survivorId").GetGuid()}/split",
                   new { mergedCustomerId = merged.GetProperty("mergedIds")[0].GetGuid() }))
        {
            Assert.Equal(HttpStatusCode.OK, split.StatusCode);
        }
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"v1/customers/{deeId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await other.DeleteAsync($"v1/customers/{otherId}")).StatusCode);
        await TestPipeline.Eventually(() => Task.FromResult(OfType(crm, "customer.").Count() >= 3 && OfType(otherCrm, "customer.erased").Any()),
            Patience, () => Task.FromResult($"received: {string.Join(", ", crm.Received.Select(w => Body(w).GetProperty("type").GetString()))}"));

        // The queue subscription gets the erasure too, under the same id as the webhook.
        var erasedWebhook = OfType(crm, "customer.erased").Single();
        await using (var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(queueUri) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var read = new List<(string? Id, string? Type, string Body)>();
            await TestPipeline.Eventually(async () =>
            {
                while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
                {
                    read.Add((message.BasicProperties.MessageId, message.BasicProperties.Type, System.Text.Encoding.UTF8.GetString(message.Body.Span)));
                }
                return read.Count > 0;
            }, Patience, () => Task.FromResult($"nothing in {queue}"));
            var (id, type, body) = Assert.Single(read);
            Assert.Equal(("customer.erased", erasedWebhook.Id), (type, id));
            Assert.Equal(Body(erasedWebhook).GetRawText(), JsonDocument.Parse(body).RootElement.GetRawText());
        }

        // Applied in the order received, once per webhook-id.
        foreach (var webhook in OfType(crm, "customer.").DistinctBy(w => w.Id))
        {
            var body = Body(webhook);
            var data = body.GetProperty("data");
            switch (body.GetProperty("type").GetString())
            {
                case "customer.merged":
                    records.ExceptWith(data.GetProperty("mergedIds").EnumerateArray().Select(i => i.GetGuid()));
                    records.Add(data.GetProperty("survivorId").GetGuid());
                    break;
                case "customer.split":
                    records.Add(data.GetProperty("restoredCustomerId").GetGuid());
                    break;
                case "customer.erased":
                    records.Remove(data.GetProperty("customerId").GetGuid());
                    records.ExceptWith(data.GetProperty("formerCustomerIds").EnumerateArray().Select(i => i.GetGuid()));
                    break;
            }
        }
        Assert.Equal((await Listing(http)).Order(), records.Order());
        Assert.Equal(["customer.erased", "customer.merged", "customer.split"],
            OfType(crm, "customer.").Select(w => Body(w).GetProperty("type").GetString()).Order());
        Assert.Empty(OfType(alertsOnly, "customer."));
        Assert.Equal(otherId, Body(Assert.Single(OfType(otherCrm, "customer."))).GetProperty("data").GetProperty("customerId").GetGuid());
        Assert.DoesNotContain(crm.Received, w => Body(w).GetProperty("data").ToString().Contains(otherId.ToString()));

        // An alert, which the subscription that named no events gets (and the customer CRM does not).
        await HighEffortJourney(http, $"sync-{run}");
        await TestPipeline.Eventually(() => Task.FromResult(OfType(alertsOnly, "alert.raised").Any()), Patience, () => Task.FromResult("no alert.raised"));
        Assert.Empty(OfType(crm, "alert."));

        // A test event, on request, to that subscription alone.
        using (var test = await http.PostAsync($"v1/subscriptions/{crmSubscription}/test", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, test.StatusCode);
            var webhookId = (await test.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("webhookId").GetString();
            await TestPipeline.Eventually(() => Task.FromResult(crm.Received.Any(w => w.Id == webhookId)), Patience, () => Task.FromResult("no test event"));
            Assert.Equal(crmSubscription, Body(crm.Received.Single(w => w.Id == webhookId)).GetProperty("data").GetProperty("subscriptionId").GetGuid());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"v1/subscriptions/{crmSubscription}/test", null)).StatusCode);

        Assert.Empty(OfType(alertsOnly, "customer."));

        // Every body delivered, of every kind, is signed, carries its webhook-id as its id, and meets its type's schema.
        var catalog = await http.GetFromJsonAsync<JsonElement>("v1/event-types");
        var schemas = catalog.GetProperty("eventTypes").EnumerateArray().ToDictionary(e => e.GetProperty("type").GetString()!,
            e => JsonSchema.FromText(e.GetProperty("schema").GetRawText(), new BuildOptions { SchemaRegistry = new SchemaRegistry() },
                new Uri($"https://contacts.test/{e.GetProperty("type").GetString()}")));
        var delivered = crm.Received.Concat(alertsOnly.Received).Concat(otherCrm.Received).ToList();
        Assert.Contains(delivered, w => Body(w).GetProperty("type").GetString() == "test");
        foreach (var webhook in delivered)
        {
            var body = Body(webhook);
            Assert.True(webhook.SignatureValid, webhook.Body);
            Assert.Equal(webhook.Id, body.GetProperty("id").GetString());
            var result = schemas[body.GetProperty("type").GetString()!].Evaluate(body, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, $"{webhook.Body} does not meet its schema: "
                + string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
        }
    }
}
