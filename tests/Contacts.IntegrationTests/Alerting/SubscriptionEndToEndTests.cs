using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.ServiceDefaults.Webhooks;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Contacts.IntegrationTests;

/// <summary>
/// Tenants' webhook subscriptions through the gateway, as a CRM uses them: subscribe, receive signed alerts (retried until
/// the endpoint recovers, each exactly once by webhook-id), read the delivery log, redeliver, rotate the secret, unsubscribe.
/// Private addresses are allowed here (the receivers are on loopback), as tools/run allows them for its stand-in CRM.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed partial class SubscriptionEndToEndTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;

    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("subscriptions-e2e", async () => await TestPipeline.Create(await servers.Isolate("subscriptions-e2e"),
            environment: new Dictionary<string, string?>
            {
                ["Alerting__Webhook__AllowPrivateAddresses"] = "true",
                // Seconds instead of the three-day schedule, so a failing then recovering endpoint is seen within a test.
                ["Alerting__Webhook__RetrySchedule__0"] = "00:00:00",
                ["Alerting__Webhook__RetrySchedule__1"] = "00:00:01",
                ["Alerting__Webhook__RetrySchedule__2"] = "00:00:01",
                ["Alerting__Webhook__RetrySchedule__3"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__4"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__5"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__6"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__7"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__8"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__9"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__10"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__11"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__12"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__13"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__14"] = "00:00:02",
                ["Alerting__Webhook__RetrySchedule__15"] = "00:00:02",
                // A CRM down this long is disabled (a day in production): longer than any failing spell the other tests need.
                ["Alerting__Webhook__DisableAfter"] = "00:00:20",
                // Source counts written (and silence looked for) twice a second instead of every 5 s.
                ["Ingestion__Sources__FlushInterval"] = "00:00:00.5",
            }));

    public Task DisposeAsync() => Task.CompletedTask;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    internal static async Task<(JsonElement Body, HttpResponseMessage Response)> Subscribe(HttpClient http, object request, string? idempotencyKey = null)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "v1/subscriptions") { Content = JsonContent.Create(request) };
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        var response = await http.SendAsync(message);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(), response);
    }

    internal static async Task<(Guid Id, string Secret)> SubscribeOk(HttpClient http, CrmWebhookReceiver receiver, params string[] events)
    {
        var (body, response) = await Subscribe(http, events.Length == 0 ? new { url = receiver.Url } : new { url = receiver.Url, events });
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        var secret = body.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret);
        receiver.Secret = secret;
        return (body.GetProperty("id").GetGuid(), secret);
    }

    /// <summary>A new high-effort customer of this tenant: three contacts on three channels; returns its contact event ids.</summary>
    private static async Task<List<Guid>> HighEffortJourney(HttpClient http, string prefix)
    {
        var n = Random.Shared.Next(1000, 9999);
        var ids = new List<Guid>();
        foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, phone: $"+44 20 7946 {n}", email: $"{prefix}.{Guid.NewGuid():N}@example.com", idPrefix: prefix))
        {
            ids.Add((await TestPipeline.Push(http, e)).Id);
        }
        return ids;
    }

    private static JsonElement Data(ReceivedWebhook w) => JsonDocument.Parse(w.Body).RootElement.GetProperty("data");

    private static string Type(ReceivedWebhook w) => JsonDocument.Parse(w.Body).RootElement.GetProperty("type").GetString()!;

    private static ReceivedWebhook? RaisedBy(CrmWebhookReceiver receiver, IReadOnlyCollection<Guid> contactEventIds) =>
        receiver.Received.FirstOrDefault(w => Type(w) == "alert.raised" && contactEventIds.Contains(Data(w).GetProperty("contactEventId").GetGuid()));

    private static async Task<Guid> AlertRaisedAt(CrmWebhookReceiver receiver, IReadOnlyCollection<Guid> contactEventIds)
    {
        await TestPipeline.Eventually(() => Task.FromResult(RaisedBy(receiver, contactEventIds) is not null), Patience,
            () => Task.FromResult($"no alert.raised webhook for these contacts ({receiver.Received.Count} webhooks received)"));
        return Data(RaisedBy(receiver, contactEventIds)!).GetProperty("alertId").GetGuid();
    }

    [Fact]
    public async Task A_receiver_that_fails_then_recovers_gets_every_alert_exactly_once_by_webhook_id_and_the_log_shows_each_attempt()
    {
        using var http = _pipeline.Client();
        await using var crm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        var failing = true;
        crm.Responder = _ => Volatile.Read(ref failing) ? 503 : 200;
        var (subscription, _) = await SubscribeOk(http, crm);

        var first = await HighEffortJourney(http, "recover-a");
        var second = await HighEffortJourney(http, "recover-b");
        var alerts = new[] { await AlertRaisedAt(crm, first), await AlertRaisedAt(crm, second) };
        // Both failed at least twice before the endpoint recovers.
        await TestPipeline.Eventually(() => Task.FromResult(alerts.All(a => crm.Answered.Count(x => x.Webhook.Id == a.ToString() && x.Status == 503) >= 2)),
            Patience, () => Task.FromResult($"{crm.Answered.Count} answers so far"));
        Volatile.Write(ref failing, false);
        await TestPipeline.Eventually(() => Task.FromResult(alerts.All(a => crm.Answered.Any(x => x.Webhook.Id == a.ToString() && x.Status == 200))),
            Patience, () => Task.FromResult($"{crm.Answered.Count} answers so far, {crm.Answered.Count(x => x.Status == 200)} of them 200"));
        await Task.Delay(TimeSpan.FromSeconds(4)); // room for a duplicate to show up, were there one (the schedule retries every 1-2 s)

        var accepted = crm.Answered.Where(x => x.Status == 200).GroupBy(x => x.Webhook.Id).ToList();
        Assert.All(accepted, g => Assert.Single(g));
        Assert.All(crm.Received, w => Assert.True(w.SignatureValid, $"webhook {w.Id} has a signature that does not verify"));
        Assert.All(alerts, a => Assert.Contains(accepted, g => g.Key == a.ToString()));

        // The delivery log: each attempt with its status and latency, newest delivery first.
        var log = await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}/deliveries?limit=200");
        var raised = log.GetProperty("items").EnumerateArray().Single(d => d.GetProperty("webhookId").GetGuid() == alerts[0]);
        Assert.Equal("delivered", raised.GetProperty("status").GetString());
        Assert.Equal("alert.raised", raised.GetProperty("eventType").GetString());
        var attempts = raised.GetProperty("attempts").EnumerateArray().ToList();
        Assert.True(attempts.Count >= 3, raised.ToString());
        Assert.All(attempts[..^1], a => Assert.Equal(503, a.GetProperty("statusCode").GetInt32()));
        Assert.Equal(200, attempts[^1].GetProperty("statusCode").GetInt32());
        Assert.All(attempts, a => Assert.True(a.GetProperty("latencyMs").GetInt32() >= 0));
        Assert.False(attempts[^1].TryGetProperty("error", out var none) && none.ValueKind != JsonValueKind.Null, attempts[^1].ToString());
        Assert.Equal("503 Service Unavailable", attempts[0].GetProperty("error").GetString());

        // Redelivery sends it again, same webhook-id, and logs another attempt.
        using var redeliver = await http.PostAsync($"v1/deliveries/{raised.GetProperty("id").GetGuid()}/redeliver", null);
        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        await TestPipeline.Eventually(() => Task.FromResult(crm.Answered.Count(x => x.Webhook.Id == alerts[0].ToString() && x.Status == 200) == 2),
            Patience, () => Task.FromResult("the redelivery did not arrive"));
        await TestPipeline.Eventually(async () =>
        {
            var again = await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}/deliveries?limit=200");
            var d = again.GetProperty("items").EnumerateArray().Single(x => x.GetProperty("id").GetGuid() == raised.GetProperty("id").GetGuid());
            return d.GetProperty("attempts").GetArrayLength() == attempts.Count + 1 && d.GetProperty("status").GetString() == "delivered";
        }, Patience, () => Task.FromResult("the log does not show the redelivery"));

        // Another tenant cannot read this log or redeliver it.
        using var other = _pipeline.Client(_pipeline.KeyB);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/subscriptions/{subscription}/deliveries")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"v1/deliveries/{raised.GetProperty("id").GetGuid()}/redeliver", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"v1/subscriptions/{subscription}")).StatusCode);
    }

    [Fact]
    public async Task Two_tenants_subscriptions_see_only_their_own_alerts_and_only_the_types_they_asked_for()
    {
        using var a = _pipeline.Client(_pipeline.KeyA);
        using var b = _pipeline.Client(_pipeline.KeyB);
        await using var crmA = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        await using var crmB = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        var (subA, _) = await SubscribeOk(a, crmA, "alert.raised");
        var (subB, _) = await SubscribeOk(b, crmB);

        var alertA = await AlertRaisedAt(crmA, await HighEffortJourney(a, "tenants-a"));
        var alertB = await AlertRaisedAt(crmB, await HighEffortJourney(b, "tenants-b"));
        // Acknowledgements: B's CRM gets B's; A's CRM asked for alert.raised only, so it gets neither.
        Assert.Equal(HttpStatusCode.OK, (await a.PostAsync($"v1/alerts/{alertA}/acknowledge", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await b.PostAsync($"v1/alerts/{alertB}/acknowledge", null)).StatusCode);
        await TestPipeline.Eventually(() => Task.FromResult(crmB.Received.Any(w => Type(w) == "alert.acknowledged")), Patience,
            () => Task.FromResult("B's CRM did not get its acknowledgement"));
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.All(crmA.Received, w => Assert.Equal("alert.raised", Type(w)));
        foreach (var (crm, own, other) in new[] { (crmA, a, b), (crmB, b, a) })
        {
            foreach (var id in crm.Received.Select(w => Data(w).GetProperty("alertId").GetGuid()).Distinct())
            {
                Assert.Equal(HttpStatusCode.OK, (await own.GetAsync($"v1/alerts/{id}")).StatusCode);
                Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/alerts/{id}")).StatusCode);
            }
        }
        Assert.DoesNotContain(crmA.Received, w => w.Id == alertB.ToString());
        Assert.DoesNotContain(crmB.Received, w => w.Id == alertA.ToString());

        // Each tenant sees, reads and deletes only its own subscriptions.
        var listA = await a.GetFromJsonAsync<JsonElement>("v1/subscriptions?limit=200");
        Assert.Contains(listA.GetProperty("items").EnumerateArray(), s => s.GetProperty("id").GetGuid() == subA);
        Assert.DoesNotContain(listA.GetProperty("items").EnumerateArray(), s => s.GetProperty("id").GetGuid() == subB);
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync($"v1/subscriptions/{subB}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.DeleteAsync($"v1/subscriptions/{subB}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.PostAsync($"v1/subscriptions/{subB}/rotate-secret", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await a.DeleteAsync($"v1/subscriptions/{subA}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await b.DeleteAsync($"v1/subscriptions/{subB}")).StatusCode);
    }

    [Fact]
    public async Task After_rotating_the_secret_webhooks_carry_two_signatures_one_per_secret()
    {
        using var http = _pipeline.Client();
        await using var crm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        var (subscription, oldSecret) = await SubscribeOk(http, crm);
        var alert = await AlertRaisedAt(crm, await HighEffortJourney(http, "rotate"));
        Assert.Single(crm.Received.First(w => w.Id == alert.ToString()).Signature.Split(' '));

        using var rotate = await http.PostAsync($"v1/subscriptions/{subscription}/rotate-secret", null);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        var rotated = await rotate.Content.ReadFromJsonAsync<JsonElement>();
        var newSecret = rotated.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", newSecret);
        Assert.NotEqual(oldSecret, newSecret);
        Assert.InRange(rotated.GetProperty("previousSecretExpiresAt").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24.1));
        var shown = await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}");
        Assert.False(shown.TryGetProperty("secret", out _));
        Assert.Equal(rotated.GetProperty("previousSecretExpiresAt").GetDateTimeOffset(), shown.GetProperty("previousSecretExpiresAt").GetDateTimeOffset());

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"v1/alerts/{alert}/acknowledge", null)).StatusCode);
        bool Acknowledgement(ReceivedWebhook w) => Type(w) == "alert.acknowledged" && Data(w).GetProperty("alertId").GetGuid() == alert;
        await TestPipeline.Eventually(() => Task.FromResult(crm.Received.Any(Acknowledgement)), Patience, () => Task.FromResult("no acknowledgement webhook"));
        var acknowledged = crm.Received.First(Acknowledgement);
        var signatures = acknowledged.Signature.Split(' ');
        Assert.Equal(2, signatures.Length);
        var timestamp = acknowledged.Timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var body = System.Text.Encoding.UTF8.GetBytes(acknowledged.Body);
        Assert.Equal(StandardWebhooks.Sign(newSecret, acknowledged.Id, timestamp, body), signatures[0]);
        Assert.Equal(StandardWebhooks.Sign(oldSecret, acknowledged.Id, timestamp, body), signatures[1]);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"v1/subscriptions/{subscription}")).StatusCode);
    }

    [Fact]
    public async Task An_endpoint_answering_410_disables_its_subscription_and_GET_says_why()
    {
        using var http = _pipeline.Client();
        await using var crm = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret()) { RespondWith = 410 };
        var (subscription, _) = await SubscribeOk(http, crm);
        // The first webhook of the tenant to reach it (this journey's alert, or a late change of an earlier test's) is answered 410.
        await HighEffortJourney(http, "gone");
        await TestPipeline.Eventually(async () =>
                (await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}")).GetProperty("status").GetString() == "disabled",
            Patience, () => Task.FromResult($"the subscription is still enabled ({crm.Received.Count} webhooks received)"));
        var shown = await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}");
        Assert.Equal("the endpoint answered 410 Gone", shown.GetProperty("disabledReason").GetString());
        Assert.True(shown.TryGetProperty("disabledAt", out var disabledAt) && disabledAt.ValueKind == JsonValueKind.String, shown.ToString());
        var deliveries = (await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{subscription}/deliveries")).GetProperty("items").EnumerateArray().ToList();
        var gone = deliveries.Single(d => d.GetProperty("attempts").EnumerateArray().Any(a => a.TryGetProperty("statusCode", out var code) && code.GetInt32() == 410));
        Assert.Equal("disabled", gone.GetProperty("status").GetString());
        Assert.Single(gone.GetProperty("attempts").EnumerateArray()); // not retried
        Assert.All(deliveries, d => Assert.NotEqual("pending", d.GetProperty("status").GetString()));
        using var redeliver = await http.PostAsync($"v1/deliveries/{gone.GetProperty("id").GetGuid()}/redeliver", null);
        Assert.Equal(HttpStatusCode.Conflict, redeliver.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"v1/subscriptions/{subscription}")).StatusCode);
    }

    [Fact]
    public async Task Creating_is_validated_idempotent_by_key_paginated_and_the_metadata_address_is_refused_even_with_private_addresses_allowed()
    {
        using var http = _pipeline.Client(_pipeline.KeyLimited);
        var (bad, badResponse) = await Subscribe(http, new { url = "https://crm.example.com/hooks", events = new[] { "alert.opened" } });
        Assert.Equal(HttpStatusCode.BadRequest, badResponse.StatusCode);
        Assert.StartsWith("'alert.opened' is not one of", bad.GetProperty("errors").GetProperty("events")[0].GetString());
        var (metadata, metadataResponse) = await Subscribe(http, new { url = "http://169.254.169.254/latest/meta-data/" });
        Assert.Equal(HttpStatusCode.BadRequest, metadataResponse.StatusCode);
        Assert.Contains("metadata", metadata.GetProperty("errors").GetProperty("url")[0].GetString());
        var (scheme, schemeResponse) = await Subscribe(http, new { url = "file:///etc/passwd" });
        Assert.Equal(HttpStatusCode.BadRequest, schemeResponse.StatusCode);
        Assert.Equal("must use http or https", scheme.GetProperty("errors").GetProperty("url")[0].GetString());

        var key = Guid.NewGuid().ToString();
        var (first, firstResponse) = await Subscribe(http, new { url = "https://crm.example.com/hooks/1" }, key);
        var (again, againResponse) = await Subscribe(http, new { url = "https://crm.example.com/hooks/1" }, key);
        Assert.Equal(HttpStatusCode.Created, firstResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Created, againResponse.StatusCode);
        Assert.Equal(first.GetProperty("id").GetGuid(), again.GetProperty("id").GetGuid());
        Assert.Equal(first.GetProperty("secret").GetString(), again.GetProperty("secret").GetString());
        Assert.Equal($"/v1/subscriptions/{first.GetProperty("id").GetGuid()}", firstResponse.Headers.Location?.ToString());
        var (_, reusedResponse) = await Subscribe(http, new { url = "https://crm.example.com/hooks/other" }, key);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reusedResponse.StatusCode);
        var (second, _) = await Subscribe(http, new { url = "https://crm.example.com/hooks/2", events = new[] { "alert.resolved" } });

        var page1 = await http.GetFromJsonAsync<JsonElement>("v1/subscriptions?limit=1");
        Assert.Equal(second.GetProperty("id").GetGuid(), page1.GetProperty("items")[0].GetProperty("id").GetGuid());
        var page2 = await http.GetFromJsonAsync<JsonElement>($"v1/subscriptions?limit=1&after={page1.GetProperty("next").GetString()}");
        Assert.Equal(first.GetProperty("id").GetGuid(), page2.GetProperty("items")[0].GetProperty("id").GetGuid());
        Assert.Equal(["alert.resolved"], page1.GetProperty("items")[0].GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("v1/subscriptions?limit=0")).StatusCode);

        foreach (var id in new[] { first.GetProperty("id").GetGuid(), second.GetProperty("id").GetGuid() })
        {
            Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"v1/subscriptions/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"v1/subscriptions/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"v1/subscriptions/{id}")).StatusCode);
        }
        Assert.Equal(0, (await http.GetFromJsonAsync<JsonElement>("v1/subscriptions")).GetProperty("items").GetArrayLength());
    }

    /// <summary>Reads the queue with the given credentials until a message for one of these contacts arrives; returns all read.</summary>
    private static async Task<List<(string MessageId, string Type, JsonElement Data)>> ReadUntil(string uri, string queue, IReadOnlyCollection<Guid> contactEventIds)
    {
        var factory = new ConnectionFactory { Uri = new Uri(uri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var read = new List<(string MessageId, string Type, JsonElement Data)>();
        await TestPipeline.Eventually(async () =>
        {
            while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
            {
                var body = JsonDocument.Parse(message.Body.ToArray()).RootElement;
                read.Add((message.BasicProperties.MessageId!, message.BasicProperties.Type!, body.GetProperty("data").Clone()));
            }
            return read.Any(m => contactEventIds.Contains(m.Data.GetProperty("contactEventId").GetGuid()));
        }, Patience, () => Task.FromResult($"{read.Count} messages in {queue}, none for these contacts"));
        return read;
    }

    /// <summary>What a broker operation does with these credentials: null when allowed, else the broker's refusal.</summary>
    private static async Task<string?> Refusal(string uri, Func<IChannel, Task> operation)
    {
        var factory = new ConnectionFactory { Uri = new Uri(uri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            await operation(channel);
            return null;
        }
        catch (OperationInterruptedException ex)
        {
            return ex.ShutdownReason?.ReplyText ?? ex.Message;
        }
    }

    [Fact]
    public async Task A_queue_subscription_receives_only_its_tenants_events_and_its_credentials_read_that_queue_alone()
    {
        using var a = _pipeline.Client(_pipeline.KeyA);
        using var b = _pipeline.Client(_pipeline.KeyB);
        var (createdA, responseA) = await Subscribe(a, new { type = "amqp", events = new[] { "alert.raised" } });
        Assert.True(responseA.StatusCode == HttpStatusCode.Created, createdA.ToString());
        var (createdB, responseB) = await Subscribe(b, new { type = "amqp" });
        Assert.True(responseB.StatusCode == HttpStatusCode.Created, createdB.ToString());
        Assert.False(createdA.TryGetProperty("secret", out _));
        var (uriA, queueA) = (createdA.GetProperty("amqp").GetProperty("uri").GetString()!, createdA.GetProperty("amqp").GetProperty("queue").GetString()!);
        var (uriB, queueB) = (createdB.GetProperty("amqp").GetProperty("uri").GetString()!, createdB.GetProperty("amqp").GetProperty("queue").GetString()!);
        Assert.Contains(createdA.GetProperty("amqp").GetProperty("password").GetString()!, uriA);
        var shownA = await a.GetFromJsonAsync<JsonElement>($"v1/subscriptions/{createdA.GetProperty("id").GetGuid()}");
        Assert.Equal("amqp", shownA.GetProperty("type").GetString());
        Assert.Equal(queueA, shownA.GetProperty("queue").GetString());
        Assert.DoesNotContain(createdA.GetProperty("amqp").GetProperty("password").GetString()!, shownA.ToString());

        var contactsA = await HighEffortJourney(a, "queue-a");
        var contactsB = await HighEffortJourney(b, "queue-b");
        var readA = await ReadUntil(uriA, queueA, contactsA);
        var readB = await ReadUntil(uriB, queueB, contactsB);
        var alertA = readA.Single(m => contactsA.Contains(m.Data.GetProperty("contactEventId").GetGuid()));
        Assert.Equal(alertA.Data.GetProperty("alertId").GetString(), alertA.MessageId); // the raised webhook's id: the alert id
        Assert.All(readA, m => Assert.Equal("alert.raised", m.Type));
        foreach (var (read, own, other) in new[] { (readA, a, b), (readB, b, a) })
        {
            foreach (var id in read.Select(m => m.Data.GetProperty("alertId").GetGuid()).Distinct())
            {
                Assert.Equal(HttpStatusCode.OK, (await own.GetAsync($"v1/alerts/{id}")).StatusCode);
                Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/alerts/{id}")).StatusCode);
            }
        }

        // B's credentials: its own queue only; no reading A's, no binding (to A's events or any exchange), no declaring, no publishing.
        Assert.Null(await Refusal(uriB, c => c.BasicGetAsync(queueB, autoAck: false)));
        Assert.Contains("ACCESS_REFUSED", await Refusal(uriB, c => c.BasicGetAsync(queueA, autoAck: false)));
        Assert.Contains("ACCESS_REFUSED", await Refusal(uriB, c => c.BasicConsumeAsync(queueA, autoAck: false, new AsyncEventingBasicConsumer(c))));
        Assert.Contains("ACCESS_REFUSED", await Refusal(uriB, c => c.QueueBindAsync(queueB, "Contacts.Contracts:HighEffortAlertRaised", "")));
        Assert.Contains("ACCESS_REFUSED", await Refusal(uriB, c => c.QueueBindAsync(queueA, "Contacts.Contracts:HighEffortAlertRaised", "")));
        Assert.Contains("ACCESS_REFUSED", await Refusal(uriB, c => c.QueueDeclareAsync("tenant-b-own", durable: false, exclusive: true, autoDelete: true)));
        Assert.Contains("ACCESS_REFUSED", await Refusal(uriB, c => c.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)));

        // The queue: quorum, bounded, refusing publishes when full (so nothing queued is dropped).
        var info = await _pipeline.Isolation.RabbitMqServer.QueueInfoAsync(_pipeline.Isolation.Name, queueA);
        Assert.Equal("quorum", info.GetProperty("type").GetString());
        Assert.Equal(100_000, info.GetProperty("arguments").GetProperty("x-max-length").GetInt32());
        Assert.Equal("reject-publish", info.GetProperty("arguments").GetProperty("x-overflow").GetString());
        // The services' own broker user has no management rights: it cannot create users (alerting's management address can).
        var servicesUser = Contacts.Dev.Servers.RabbitMqServer.ServicesUser(_pipeline.Isolation.Name);
        Assert.StartsWith($"amqp://{servicesUser}:", _pipeline.Isolation.RabbitMq);
        Assert.Equal("", await _pipeline.Isolation.RabbitMqServer.UserTagsAsync(servicesUser));
        using (var asServices = new HttpClient { BaseAddress = _pipeline.Isolation.RabbitMqServer.ManagementUri })
        {
            asServices.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Uri.UnescapeDataString(new Uri(_pipeline.Isolation.RabbitMq).UserInfo))));
            using var create = await asServices.PutAsJsonAsync("api/users/not-allowed", new { password = "x", tags = "" });
            Assert.Equal(HttpStatusCode.Unauthorized, create.StatusCode);
        }

        // Deleting the subscription removes its queue and its user.
        Assert.Equal(HttpStatusCode.NoContent, (await a.DeleteAsync($"v1/subscriptions/{createdA.GetProperty("id").GetGuid()}")).StatusCode);
        await Assert.ThrowsAnyAsync<BrokerUnreachableException>(() => new ConnectionFactory { Uri = new Uri(uriA) }.CreateConnectionAsync());
        Assert.Contains("NOT_FOUND", await Refusal(_pipeline.Isolation.RabbitMq, c => c.QueueDeclarePassiveAsync(queueA)));
        Assert.Equal(HttpStatusCode.NoContent, (await b.DeleteAsync($"v1/subscriptions/{createdB.GetProperty("id").GetGuid()}")).StatusCode);
    }
}

/// <summary>Server-side request forgery, with the operator setting for private addresses off (its default).</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class SubscriptionForgeryTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;

    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("subscriptions-ssrf", async () => await TestPipeline.Create(await servers.Isolate("subscriptions-ssrf"),
            start: [LocalPipeline.Alerting, LocalPipeline.Gateway]));

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("http://127.0.0.1:8080/crm", "must not point at 127.0.0.1 is a loopback, private or link-local address")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "must not point at 169.254.169.254 is the cloud metadata address")]
    [InlineData("http://[::ffff:127.0.0.1]/crm", "must not point at ::ffff:127.0.0.1 is a loopback, private or link-local address")]
    [InlineData("http://[fd00:ec2::254]/", "must not point at fd00:ec2::254 is the cloud metadata address")]
    [InlineData("http://10.0.0.8/crm", "must not point at 10.0.0.8 is a loopback, private or link-local address")]
    [InlineData("http://localhost:8080/crm", "must name a public host (local names are refused)")]
    [InlineData("gopher://crm.example.com/", "must use http or https")]
    public async Task A_subscription_to_a_loopback_private_or_metadata_address_is_refused_and_nothing_is_stored(string url, string rule)
    {
        using var http = _pipeline.Client();
        var (body, response) = await SubscriptionEndToEndTests.Subscribe(http, new { url });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(rule, body.GetProperty("errors").GetProperty("url")[0].GetString());
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.webhook_subscriptions"));
    }
}
