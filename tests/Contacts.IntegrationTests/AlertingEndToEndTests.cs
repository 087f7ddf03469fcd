using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using RabbitMQ.Client;

namespace Contacts.IntegrationTests;

/// <summary>Alerts through the gateway as a CRM sees them when identity splits or erases a customer.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class AlertingEndToEndTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;

    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("alerting-e2e", async () => await TestPipeline.Create(await servers.Isolate("alerting-e2e")));

    public Task DisposeAsync() => Task.CompletedTask;

    private static object Contact(string id, object identifiers, string channel, int hoursAgo) => new
    {
        source = "alerting-test", sourceEventId = id, contactId = id, channel, kind = "ended", topic = "billing",
        occurredAt = DateTimeOffset.UtcNow.AddHours(-hoursAgo), identifiers,
    };

    private ReceivedWebhook? WebhookFor(IReadOnlyCollection<Guid> contactEventIds) => _pipeline.Crm.Received.FirstOrDefault(w =>
        contactEventIds.Contains(JsonDocument.Parse(w.Body).RootElement.GetProperty("data").GetProperty("contactEventId").GetGuid()));

    private async Task<JsonElement> AlertRaisedBy(IReadOnlyCollection<Guid> contactEventIds)
    {
        await TestPipeline.Eventually(() => Task.FromResult(WebhookFor(contactEventIds) is not null), TimeSpan.FromSeconds(90),
            () => Task.FromResult("no alert webhook yet"));
        return JsonDocument.Parse(WebhookFor(contactEventIds)!.Body).RootElement.GetProperty("data").Clone();
    }

    private static async Task<Guid> CustomerId(HttpClient http, string query)
    {
        var id = Guid.Empty;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers?{query}");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }
            id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            return true;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult($"no customer for {query}"));
        return id;
    }

    /// <summary>Publishes as a service would (MassTransit's envelope on the message type's exchange), with a chosen message id.</summary>
    private async Task Publish<T>(T message, Guid messageId) where T : class
    {
        var factory = new ConnectionFactory { Uri = new Uri(_pipeline.Isolation.RabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var body = JsonSerializer.Serialize(new
        {
            messageId,
            messageType = new[] { $"urn:message:Contacts.Contracts:{typeof(T).Name}" },
            message,
        }, JsonSerializerOptions.Web);
        var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true, MessageId = messageId.ToString() };
        await channel.BasicPublishAsync($"Contacts.Contracts:{typeof(T).Name}", "", true, properties, Encoding.UTF8.GetBytes(body));
    }

    private static async Task<JsonElement> OpenAlerts(HttpClient http, Guid customerId) =>
        (await http.GetFromJsonAsync<JsonElement>($"v1/alerts?customerId={customerId}&status=open")).GetProperty("items").Clone();

    [Fact]
    public async Task An_erased_customers_alerts_webhook_bodies_and_effort_are_forgotten_and_late_scores_raise_nothing()
    {
        using var http = _pipeline.Client();
        var ids = new List<Guid>();
        foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, phone: "+44 20 7946 0333", email: "erase.alerts@example.com", idPrefix: "erase-alerts"))
        {
            ids.Add((await TestPipeline.Push(http, e)).Id);
        }
        var raised = await AlertRaisedBy(ids);
        var (alertId, customerId) = (raised.GetProperty("alertId").GetGuid(), raised.GetProperty("customerId").GetGuid());
        await TestPipeline.Eventually(async () => await _pipeline.Count(
                "select count(*) from alerting.webhook_deliveries where alert_id = @a and status = 'delivered'", ("a", alertId)) == 1,
            TimeSpan.FromSeconds(30), () => Task.FromResult("the webhook was not recorded as delivered"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"v1/alerts/{alertId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"v1/customers/{customerId}/effort")).StatusCode);

        using var erase = await http.DeleteAsync($"v1/customers/{customerId}");
        Assert.Equal(HttpStatusCode.Accepted, erase.StatusCode);

        await TestPipeline.Eventually(async () => (await http.GetAsync($"v1/alerts/{alertId}")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => Task.FromResult("alerting still shows the erased customer's alert"));
        Assert.Equal(0, (await OpenAlerts(http, customerId)).GetArrayLength());
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.alerts where customer_id = @c or contact_event_id = any(@e)",
            ("c", customerId), ("e", ids.ToArray())));
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.webhook_deliveries where alert_id = @a or body like '%' || @c || '%'",
            ("a", alertId), ("c", customerId.ToString())));
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.customer_alert_state where customer_id = @c and not erased", ("c", customerId)));
        Assert.Equal(1, await _pipeline.Count("select count(*) from alerting.inbox where consumer = 'alerting-customer-erased'"));
        await TestPipeline.Eventually(async () => (await http.GetAsync($"v1/customers/{customerId}/effort")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => Task.FromResult("effort still answers for the erased customer"));
        Assert.Equal(0, await _pipeline.Count("select count(*) from effort.journeys where customer_id = @c", ("c", customerId)));
        Assert.Equal(0, await _pipeline.Count("select count(*) from effort.contact_events where contact_event_id = any(@e)", ("e", ids.ToArray())));

        // A score of the erased customer still on its way (here: published late by hand) changes nothing.
        var late = new Contacts.Contracts.EffortScored(Guid.NewGuid(), TestPipeline.TenantA, customerId, ids[^1], 95, 3, 3, [],
            DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow, Version: 1_000);
        await Publish(late, late.Id);
        await TestPipeline.Eventually(async () => await _pipeline.Count(
                "select count(*) from alerting.inbox where consumer = 'alerting-effort-scored' and message_id = @m", ("m", late.Id)) == 1,
            TimeSpan.FromSeconds(30), () => Task.FromResult("alerting has not taken the late score"));
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.alerts where customer_id = @c", ("c", customerId)));
    }

    [Fact]
    public async Task After_a_split_the_alert_goes_back_with_the_customer_whose_contacts_raised_it()
    {
        using var http = _pipeline.Client();
        const string phone = "+14155550142", email = "split.alerts@example.com";
        // S: one call by phone, first (so S is the older customer and survives the merge).
        var s1 = (await TestPipeline.Push(http, Contact("split-s1", new { phone }, "voice", 30))).Id;
        var survivor = await CustomerId(http, "phone=%2B14155550142");
        // R: three contacts by email on three channels: high effort, alerted on its own.
        var rIds = new List<Guid>();
        foreach (var (id, channel, hours) in new[] { ("split-r1", "email", 20), ("split-r2", "chat", 10), ("split-r3", "sms", 5) })
        {
            rIds.Add((await TestPipeline.Push(http, Contact(id, new { email }, channel, hours))).Id);
        }
        var raised = await AlertRaisedBy(rIds);
        var (alertId, restored) = (raised.GetProperty("alertId").GetGuid(), raised.GetProperty("customerId").GetGuid());
        Assert.NotEqual(survivor, restored);

        // A web form with both merges R into S: the alert moves to S.
        var merging = (await TestPipeline.Push(http, Contact("split-m", new { phone, email }, "web_form", 1))).Id;
        await TestPipeline.Eventually(async () =>
                (await http.GetFromJsonAsync<JsonElement>($"v1/alerts/{alertId}")).GetProperty("customerId").GetGuid() == survivor,
            TimeSpan.FromSeconds(60), () => Task.FromResult("the alert did not follow the merge"));

        using var split = await http.PostAsJsonAsync($"v1/customers/{survivor}/split", new { mergedCustomerId = restored });
        Assert.Equal(HttpStatusCode.OK, split.StatusCode);

        // The alert goes back to R, whose contact raised it; S, left with its call and the merging form, has none open.
        await TestPipeline.Eventually(async () =>
                (await http.GetFromJsonAsync<JsonElement>($"v1/alerts/{alertId}")).GetProperty("customerId").GetGuid() == restored,
            TimeSpan.FromSeconds(60), () => Task.FromResult("the alert did not go back with the split"));
        var restoredOpen = await OpenAlerts(http, restored);
        Assert.Equal(alertId, Assert.Single(restoredOpen.EnumerateArray()).GetProperty("id").GetGuid());
        Assert.Equal(0, (await OpenAlerts(http, survivor)).GetArrayLength());
        Assert.Equal(1, await _pipeline.Count("select count(*) from alerting.inbox where consumer = 'alerting-customer-split'"));
        // Effort's re-scores of both sides are decided on: R's newest score version is the one after the split.
        await TestPipeline.Eventually(async () => await _pipeline.Count(
                "select count(*) from alerting.customer_alert_state where customer_id = @r and merged_into is null and score_version > 0", ("r", restored)) == 1,
            TimeSpan.FromSeconds(30), () => Task.FromResult("R's state did not come back"));
        // One alert for the person R, one webhook: nothing raised twice.
        Assert.Single(_pipeline.Crm.Received, w => JsonDocument.Parse(w.Body).RootElement.GetProperty("data").GetProperty("alertId").GetGuid() == alertId);
        _ = (s1, merging);
    }
}
