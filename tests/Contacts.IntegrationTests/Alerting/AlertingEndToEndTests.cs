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

    // Waits for the pipeline are long: a concurrency retry's backoff on a busy machine (shared by several runs) can take a minute.

    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("alerting-e2e", async () => await TestPipeline.Create(await servers.Isolate("alerting-e2e"),
            environment: new Dictionary<string, string?> { ["Alerting__Rules__ExpiryInterval"] = "00:00:02" }));

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
        await TestPipeline.Eventually(() => Task.FromResult(WebhookFor(contactEventIds) is not null), TimeSpan.FromSeconds(120),
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
        }, TimeSpan.FromSeconds(120), () => Task.FromResult($"no customer for {query}"));
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
            TimeSpan.FromSeconds(120), () => Task.FromResult("the webhook was not recorded as delivered"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"v1/alerts/{alertId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"v1/customers/{customerId}/effort")).StatusCode);

        using var erase = await http.DeleteAsync($"v1/customers/{customerId}");
        Assert.Equal(HttpStatusCode.Accepted, erase.StatusCode);

        await TestPipeline.Eventually(async () => (await http.GetAsync($"v1/alerts/{alertId}")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(120), () => Task.FromResult("alerting still shows the erased customer's alert"));
        Assert.Equal(0, (await OpenAlerts(http, customerId)).GetArrayLength());
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.alerts where customer_id = @c or contact_event_id = any(@e)",
            ("c", customerId), ("e", ids.ToArray())));
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.webhook_deliveries where alert_id = @a or body like '%' || @c || '%'",
            ("a", alertId), ("c", customerId.ToString())));
        Assert.Equal(0, await _pipeline.Count("select count(*) from alerting.customer_alert_state where customer_id = @c and not erased", ("c", customerId)));
        Assert.Equal(1, await _pipeline.Count("select count(*) from alerting.inbox where consumer = 'alerting-customer-erased'"));
        await TestPipeline.Eventually(async () => (await http.GetAsync($"v1/customers/{customerId}/effort")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(120), () => Task.FromResult("effort still answers for the erased customer"));
        Assert.Equal(0, await _pipeline.Count("select count(*) from effort.journeys where customer_id = @c", ("c", customerId)));
        Assert.Equal(0, await _pipeline.Count("select count(*) from effort.mt_events where (data -> 'contact' ->> 'eventId')::uuid = any(@e)", ("e", ids.ToArray())));

        // A score of the erased customer still on its way (here: published late by hand) changes nothing.
        var late = new Contacts.Contracts.EffortScored(Guid.NewGuid(), TestPipeline.TenantA, customerId, ids[^1], 95, 3, 3, [],
            DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow, Version: 1_000);
        await Publish(late, late.Id);
        await TestPipeline.Eventually(async () => await _pipeline.Count(
                "select count(*) from alerting.inbox where consumer = 'alerting-effort-scored' and message_id = @m", ("m", late.Id)) == 1,
            TimeSpan.FromSeconds(120), () => Task.FromResult("alerting has not taken the late score"));
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
            TimeSpan.FromSeconds(120), () => Task.FromResult("the alert did not follow the merge"));

        // Let alerting take the score of the merged journey first: one that arrives after the split (older than effort's
        // re-scores, which come later) could raise an alert on S from the merged journey until S's re-score resolves it.
        long MergedScoreVersion() => _pipeline.Tap.Of("EffortScored").Select(m => m.Message)
            .Where(m => m.GetProperty("contactEventId").GetGuid() == merging).Select(m => m.GetProperty("version").GetInt64()).DefaultIfEmpty(-1).Max();
        await TestPipeline.Eventually(async () => MergedScoreVersion() > 0 && await _pipeline.Count(
                "select count(*) from alerting.customer_alert_state where customer_id = @s and score_version >= @v", ("s", survivor), ("v", MergedScoreVersion())) == 1,
            TimeSpan.FromSeconds(120), () => Task.FromResult("alerting has not seen the merged journey's score"));

        using var split = await http.PostAsJsonAsync($"v1/customers/{survivor}/split", new { mergedCustomerId = restored });
        Assert.Equal(HttpStatusCode.OK, split.StatusCode);

        // The alert goes back to R, whose contact raised it; S, left with its call and the merging form, has none open.
        await TestPipeline.Eventually(async () =>
                (await http.GetFromJsonAsync<JsonElement>($"v1/alerts/{alertId}")).GetProperty("customerId").GetGuid() == restored,
            TimeSpan.FromSeconds(120), async () => "the alert did not go back with the split: " + await AlertingStateOf(alertId, survivor, restored));
        var restoredOpen = await OpenAlerts(http, restored);
        Assert.Equal(alertId, Assert.Single(restoredOpen.EnumerateArray()).GetProperty("id").GetGuid());
        Assert.Equal(0, (await OpenAlerts(http, survivor)).GetArrayLength());
        Assert.Equal(1, await _pipeline.Count("select count(*) from alerting.inbox where consumer = 'alerting-customer-split'"));
        // Effort's re-scores of both sides are decided on: R's newest score version is the one after the split.
        await TestPipeline.Eventually(async () => await _pipeline.Count(
                "select count(*) from alerting.customer_alert_state where customer_id = @r and merged_into is null and score_version > 0", ("r", restored)) == 1,
            TimeSpan.FromSeconds(120), () => Task.FromResult("R's state did not come back"));
        // One alert for the person R, one webhook: nothing raised twice.
        Assert.Single(WebhooksOf(alertId), w => w.Type == "alert.raised");
        _ = (s1, merging);
    }

    /// <summary>What alerting holds about an alert and two customers, for a failure message.</summary>
    private async Task<string> AlertingStateOf(Guid alertId, params Guid[] customers)
    {
        var alert = await _pipeline.Query("select customer_id, status, resolution, contact_event_id, score_version, journey_last_at from alerting.alerts where id = @a",
            r => $"alert customer={r.GetGuid(0)} status={r.GetString(1)} resolution={(r.IsDBNull(2) ? "-" : r.GetString(2))} event={r.GetGuid(3)} "
                 + $"version={(r.IsDBNull(4) ? "-" : r.GetInt64(4))} journeyLastAt={(r.IsDBNull(5) ? "-" : r.GetDateTime(5).ToString("O"))}", ("a", alertId));
        var states = await _pipeline.Query("""
            select customer_id, score_version, score, merged_into, split_from, held_score is not null, erased
            from alerting.customer_alert_state where customer_id = any(@c)
            """,
            r => $"state {r.GetGuid(0)} version={(r.IsDBNull(1) ? "-" : r.GetInt64(1))} score={(r.IsDBNull(2) ? "-" : r.GetInt32(2))} "
                 + $"mergedInto={(r.IsDBNull(3) ? "-" : r.GetGuid(3))} splitFrom=[{string.Join(",", r.GetFieldValue<Guid[]>(4))}] held={r.GetBoolean(5)} erased={r.GetBoolean(6)}",
            ("c", customers));
        var others = await _pipeline.Query("select id, customer_id, reason, status from alerting.alerts where customer_id = any(@c) and id <> @a",
            r => $"other alert {r.GetGuid(0)} customer={r.GetGuid(1)} {r.GetString(2)} {r.GetString(3)}", ("c", customers), ("a", alertId));
        var inbox = await _pipeline.Count("select count(*) from alerting.inbox where consumer = 'alerting-customer-split'");
        return string.Join("; ", [.. alert, .. states, .. others, $"split inbox rows={inbox}", $"customers S={customers[0]} R={customers[1]}"]);
    }

    /// <summary>A tenant of the test's own (its alert settings touch no other test), with a key from the operator API.</summary>
    private async Task<HttpClient> NewTenant()
    {
        using var admin = new HttpClient { BaseAddress = _pipeline.Pipeline.GatewayAddress };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _pipeline.Pipeline.Settings.OperatorKey);
        using var created = await admin.PostAsJsonAsync($"admin/tenants/t{Guid.NewGuid():N}/keys", new { name = "alerting-test" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return _pipeline.Client((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString());
    }

    /// <summary>The webhooks the CRM received about one alert, first receipt of each webhook-id, in order of receipt.</summary>
    private List<(string Id, string Type, JsonElement Data)> WebhooksOf(Guid alertId) => _pipeline.Crm.Received
        .Select(w => (w.Id, Root: JsonDocument.Parse(w.Body).RootElement))
        .Where(w => w.Root.GetProperty("data").GetProperty("alertId").GetGuid() == alertId)
        .DistinctBy(w => w.Id)
        .Select(w => (w.Id, w.Root.GetProperty("type").GetString()!, w.Root.GetProperty("data").Clone()))
        .ToList();

    private async Task<List<(string Id, string Type, JsonElement Data)>> WebhooksUntil(Guid alertId, Func<List<(string Id, string Type, JsonElement Data)>, bool> until)
    {
        await TestPipeline.Eventually(() => Task.FromResult(until(WebhooksOf(alertId))), TimeSpan.FromSeconds(120),
            () => Task.FromResult($"webhooks so far: {string.Join(", ", WebhooksOf(alertId).Select(w => w.Type))}"));
        return WebhooksOf(alertId);
    }

    private static object Journey(string prefix, string email, string channel, int hoursAgo) => new
    {
        source = "alerting-test", sourceEventId = $"{prefix}-{channel}", contactId = $"{prefix}-{channel}", channel, kind = "ended",
        topic = "billing", occurredAt = DateTimeOffset.UtcNow.AddHours(-hoursAgo), identifiers = new { email },
    };

    [Fact]
    public async Task An_alert_escalates_once_is_acknowledged_and_resolved_through_the_gateway_and_the_cooldown_keeps_it_from_raising_again()
    {
        using var http = await NewTenant();
        using var bad = await http.PutAsJsonAsync("v1/settings/alerting", new { threshold = 0, driverRules = new[] { new { reason = "x", drivers = new[] { new { name = "bored" } } } } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(["driverRules[0].drivers[0].name", "threshold"],
            (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(e => e.Name).Order());
        Assert.Equal(60, (await http.GetFromJsonAsync<JsonElement>("v1/settings/alerting")).GetProperty("threshold").GetInt32());
        using var put = await http.PutAsJsonAsync("v1/settings/alerting", new { cooldownMinutes = 60, escalationLevels = new[] { 80 } });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var settings = await http.GetFromJsonAsync<JsonElement>("v1/settings/alerting");
        Assert.Equal((60, 60, 80), (settings.GetProperty("threshold").GetInt32(), settings.GetProperty("cooldownMinutes").GetInt32(),
            settings.GetProperty("escalationLevels")[0].GetInt32()));

        // Three contacts over three channels: 70, raised at level 0.
        const string email = "lifecycle@example.com";
        var ids = new List<Guid>();
        foreach (var (channel, hours) in new[] { ("voice", 30), ("email", 20), ("web_form", 10) })
        {
            ids.Add((await TestPipeline.Push(http, Journey("life", email, channel, hours))).Id);
        }
        var raised = await AlertRaisedBy(ids);
        var alertId = raised.GetProperty("alertId").GetGuid();
        Assert.Equal((70, 0, "open"), (raised.GetProperty("score").GetInt32(), raised.GetProperty("level").GetInt32(), raised.GetProperty("status").GetString()));
        Assert.Equal("billing", raised.GetProperty("topic").GetString());
        Assert.Equal($"/v1/customers/{raised.GetProperty("customerId").GetGuid()}/context", raised.GetProperty("links").GetProperty("customerContext").GetString());

        // A fourth channel: 100, over the one level: escalated once.
        await TestPipeline.Push(http, Journey("life", email, "chat", 5));
        var escalated = (await WebhooksUntil(alertId, w => w.Any(x => x.Type == "alert.escalated"))).Single(w => w.Type == "alert.escalated");
        Assert.Equal((1, 100), (escalated.Data.GetProperty("level").GetInt32(), escalated.Data.GetProperty("score").GetInt32()));

        using (var ack = await http.PostAsync($"v1/alerts/{alertId}/acknowledge", null))
        {
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
            Assert.Equal("acknowledged", (await ack.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"v1/alerts/{alertId}/acknowledge", null)).StatusCode);
        using (var resolve = await http.PostAsync($"v1/alerts/{alertId}/resolve", null))
        {
            Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);
            var resolved = await resolve.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(("resolved", "manual"), (resolved.GetProperty("status").GetString(), resolved.GetProperty("resolution").GetString()));
        }
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"v1/alerts/{alertId}/resolve", null)).StatusCode);
        using (var late = await http.PostAsync($"v1/alerts/{alertId}/acknowledge", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
            Assert.Contains("resolved", (await late.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync($"v1/alerts/{Guid.NewGuid()}/resolve", null)).StatusCode);
        using (var other = _pipeline.Client(_pipeline.KeyB))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"v1/alerts/{alertId}/acknowledge", null)).StatusCode);
        }

        // Each change reached the CRM once, in order, under a webhook-id of its own, signed.
        var changes = await WebhooksUntil(alertId, w => w.Count >= 4);
        Assert.Equal(["alert.raised", "alert.escalated", "alert.acknowledged", "alert.resolved"], changes.Select(w => w.Type));
        Assert.Equal(alertId.ToString(), changes[0].Id);
        Assert.All(_pipeline.Crm.Received.Where(w => changes.Any(c => c.Id == w.Id)), w => Assert.True(w.SignatureValid));

        // Still high effort, but within the cooldown: no new alert.
        var fifth = (await TestPipeline.Push(http, Journey("life", email, "sms", 1))).Id;
        long FifthVersion() => _pipeline.Tap.Of("EffortScored").Select(m => m.Message)
            .Where(m => m.GetProperty("contactEventId").GetGuid() == fifth).Select(m => m.GetProperty("version").GetInt64()).DefaultIfEmpty(-1).Max();
        await TestPipeline.Eventually(async () => FifthVersion() > 0 && await _pipeline.Count(
                "select count(*) from alerting.customer_alert_state where customer_id = @c and score_version >= @v",
                ("c", raised.GetProperty("customerId").GetGuid()), ("v", FifthVersion())) == 1,
            TimeSpan.FromSeconds(120), () => Task.FromResult("alerting has not decided on the fifth contact's score"));
        var page = await http.GetFromJsonAsync<JsonElement>($"v1/alerts?customerId={raised.GetProperty("customerId").GetGuid()}");
        var only = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal(("resolved", 1), (only.GetProperty("status").GetString(), only.GetProperty("level").GetInt32()));
        Assert.Equal(alertId, Assert.Single((await http.GetFromJsonAsync<JsonElement>("v1/alerts?status=resolved")).GetProperty("items").EnumerateArray()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task A_person_whose_alert_was_resolved_is_not_alerted_again_within_the_cooldown_when_a_merge_joins_their_records()
    {
        using var http = await NewTenant(); // the default cooldown: a day
        const string phone = "+14155550177", email = "cooldown.merge@example.com";
        // S: one call by phone, first, so S survives the merge. R: three contacts by email on three channels, alerted.
        await TestPipeline.Push(http, Contact("cool-s1", new { phone }, "voice", 30));
        var survivor = await CustomerId(http, "phone=%2B14155550177");
        var rIds = new List<Guid>();
        foreach (var (channel, hours) in new[] { ("email", 20), ("chat", 10), ("sms", 5) })
        {
            rIds.Add((await TestPipeline.Push(http, Contact($"cool-r-{channel}", new { email }, channel, hours))).Id);
        }
        var alertId = (await AlertRaisedBy(rIds)).GetProperty("alertId").GetGuid();
        using (var resolve = await http.PostAsync($"v1/alerts/{alertId}/resolve", null))
        {
            Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);
        }

        // A web form with both merges R into S: the person's journey, still high effort, is now S's.
        var merging = (await TestPipeline.Push(http, Contact("cool-m", new { phone, email }, "web_form", 1))).Id;
        long MergedScoreVersion() => _pipeline.Tap.Of("EffortScored").Select(m => m.Message)
            .Where(m => m.GetProperty("contactEventId").GetGuid() == merging).Select(m => m.GetProperty("version").GetInt64()).DefaultIfEmpty(-1).Max();
        await TestPipeline.Eventually(async () => MergedScoreVersion() > 0 && await _pipeline.Count(
                "select count(*) from alerting.customer_alert_state where customer_id = @s and score_version >= @v", ("s", survivor), ("v", MergedScoreVersion())) == 1,
            TimeSpan.FromSeconds(120), () => Task.FromResult("alerting has not decided on the merged journey's score"));
        var mergedScore = _pipeline.Tap.Of("EffortScored").Select(m => m.Message)
            .Where(m => m.GetProperty("contactEventId").GetGuid() == merging).MaxBy(m => m.GetProperty("version").GetInt64());
        Assert.Equal(survivor, mergedScore.GetProperty("customerId").GetGuid());
        Assert.True(mergedScore.GetProperty("score").GetInt32() >= 60, $"the merged journey scored {mergedScore.GetProperty("score")}, under the threshold");

        // The person's alert was handled a moment ago: within the cooldown nothing is raised on the survivor.
        Assert.Equal(0, (await OpenAlerts(http, survivor)).GetArrayLength());
        Assert.Equal("resolved", (await http.GetFromJsonAsync<JsonElement>($"v1/alerts/{alertId}")).GetProperty("status").GetString());
        Assert.DoesNotContain(_pipeline.Crm.Received, w => w.Body.Contains($"\"customerId\":\"{survivor}\"") && w.Body.Contains("\"alert.raised\""));
    }

    [Fact]
    public async Task An_alert_resolves_by_itself_when_its_journey_has_been_quiet_for_the_window()
    {
        using var http = await NewTenant();
        const string email = "quiet.journey@example.com";
        var ids = new List<Guid>();
        // A journey whose last contact was 9 days ago: scored as it stood then (70), and closed by quiet since.
        foreach (var (channel, hours) in new[] { ("voice", 240), ("email", 230), ("web_form", 216) })
        {
            ids.Add((await TestPipeline.Push(http, Journey("quiet", email, channel, hours))).Id);
        }
        var alertId = (await AlertRaisedBy(ids)).GetProperty("alertId").GetGuid();
        var resolved = (await WebhooksUntil(alertId, w => w.Any(x => x.Type == "alert.resolved"))).Single(w => w.Type == "alert.resolved");
        Assert.Equal(("resolved", "journey_closed"), (resolved.Data.GetProperty("status").GetString(), resolved.Data.GetProperty("resolution").GetString()));
        Assert.Equal("resolved", (await http.GetFromJsonAsync<JsonElement>($"v1/alerts/{alertId}")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Merging_two_alerted_customers_leaves_one_open_alert_and_tells_the_CRM_which_one_carries_on()
    {
        using var http = await NewTenant();
        const string phone = "+14155550163", email = "two.alerts@example.com";
        var first = new List<Guid>();
        foreach (var (channel, hours) in new[] { ("voice", 40), ("sms", 35), ("ivr", 32) })
        {
            first.Add((await TestPipeline.Push(http, new
            {
                source = "alerting-test", sourceEventId = $"two-p-{channel}", contactId = $"two-p-{channel}", channel, kind = "ended", topic = "billing",
                occurredAt = DateTimeOffset.UtcNow.AddHours(-hours), identifiers = new { phone },
            })).Id);
        }
        var kept = await AlertRaisedBy(first);
        var second = new List<Guid>();
        foreach (var (channel, hours) in new[] { ("email", 30), ("chat", 20), ("social", 10) })
        {
            second.Add((await TestPipeline.Push(http, Journey("two-e", email, channel, hours))).Id);
        }
        var closed = await AlertRaisedBy(second);
        Assert.NotEqual(kept.GetProperty("customerId").GetGuid(), closed.GetProperty("customerId").GetGuid());

        await TestPipeline.Push(http, new
        {
            source = "alerting-test", sourceEventId = "two-form", contactId = "two-form", channel = "web_form", kind = "message", topic = "billing",
            occurredAt = DateTimeOffset.UtcNow.AddHours(-1), identifiers = new { phone, email },
        });
        var survivorAlert = kept.GetProperty("alertId").GetGuid();
        var closedAlert = closed.GetProperty("alertId").GetGuid();
        var told = (await WebhooksUntil(closedAlert, w => w.Any(x => x.Type == "alert.resolved"))).Single(w => w.Type == "alert.resolved");
        Assert.Equal(("merged", "merged", survivorAlert), (told.Data.GetProperty("status").GetString(), told.Data.GetProperty("resolution").GetString(),
            told.Data.GetProperty("supersededBy").GetGuid()));
        var survivor = kept.GetProperty("customerId").GetGuid();
        foreach (var customer in new[] { survivor, closed.GetProperty("customerId").GetGuid() })
        {
            var open = await OpenAlerts(http, customer);
            Assert.Equal(survivorAlert, Assert.Single(open.EnumerateArray()).GetProperty("id").GetGuid());
            // Every status: the person's history, the merged customer's closed alert with the survivor's open one.
            var all = (await http.GetFromJsonAsync<JsonElement>($"v1/alerts?customerId={customer}")).GetProperty("items");
            Assert.Equal(new[] { survivorAlert, closedAlert }.Order(), all.EnumerateArray().Select(a => a.GetProperty("id").GetGuid()).Order());
        }
    }
}
