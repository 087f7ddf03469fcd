using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>Through the gateway, as a platform and a CRM see it, on the whole pipeline of real processes.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class EndToEndTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;

    // One pipeline for the class, on quorum queues as production runs: each test uses identifiers of its own.
    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("e2e", async () => await TestPipeline.Create(await servers.Isolate("e2e"),
            environment: new Dictionary<string, string?>
            {
                ["RabbitMq__QuorumQueues"] = "true",
                [$"Gateway__RateLimit__Tenants__{TestPipeline.TenantLimited}__PermitsPerSecond"] = "2",
                [$"Gateway__RateLimit__Tenants__{TestPipeline.TenantLimited}__Burst"] = "3",
                [$"Ingestion__Platforms__{TestPipeline.TenantA}__twilio__Secret"] = TwilioToken,
                [$"Ingestion__Platforms__{TestPipeline.TenantA}__zendesk__Secret"] = ZendeskSecret,
                [$"Ingestion__Platforms__{TestPipeline.TenantA}__webhook__Secret"] = WebhookSecret,
            }));

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Three_contacts_on_three_channels_become_one_customer_with_a_score_and_an_alert()
    {
        using var http = _pipeline.Client();
        // The platform's own trace: every hop, and finally the CRM's webhook, must continue it.
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        http.DefaultRequestHeaders.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01");
        var ids = new List<Guid>();
        foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, phone: "+44 20 7946 0958", email: "Ana.Lima@Example.com"))
        {
            var (id, duplicate) = await TestPipeline.Push(http, e);
            Assert.False(duplicate);
            ids.Add(id);
        }

        JsonElement customer = default;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync("v1/customers?email=ana.lima@example.com");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }
            customer = await response.Content.ReadFromJsonAsync<JsonElement>();
            return customer.GetProperty("timeline").GetArrayLength() == 3;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult($"customer so far: {customer}"));

        var customerId = customer.GetProperty("id").GetGuid();
        Assert.Equal(ids, customer.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("contactEventId").GetGuid()));
        Assert.Equal(["voice", "web_form", "email"], customer.GetProperty("channels").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(["email:ana.lima@example.com", "phone:+442079460958"],
            customer.GetProperty("identifiers").EnumerateArray().Select(i => $"{i.GetProperty("type")}:{i.GetProperty("value")}"));

        // The same customer is found by the phone number, written another way.
        var byPhone = await http.GetFromJsonAsync<JsonElement>("v1/customers?phone=0044%202079460958");
        Assert.Equal(customerId, byPhone.GetProperty("id").GetGuid());

        IEnumerable<ReceivedWebhook> Webhooks() => _pipeline.Crm.Received.Where(w =>
            JsonDocument.Parse(w.Body).RootElement.GetProperty("data").GetProperty("customerId").GetGuid() == customerId);
        IEnumerable<JsonElement> Scores() => _pipeline.Tap.Of("EffortScored").Select(m => m.Message)
            .Where(s => ids.Contains(s.GetProperty("contactEventId").GetGuid()));
        await TestPipeline.Eventually(() => Task.FromResult(Webhooks().Any() && Scores().Count() >= 3),
            TimeSpan.FromSeconds(30), () => Task.FromResult($"{Webhooks().Count()} webhooks, {Scores().Count()} scores"));
        await Task.Delay(500); // long enough for a duplicate to show up, were one on its way

        var scores = Scores().ToList();
        Assert.Equal(ids.Order(), scores.Select(s => s.GetProperty("contactEventId").GetGuid()).Order());
        // Identity may see the three contacts in any order (and merge), so the full journey's score is the highest one.
        var last = scores.MaxBy(s => s.GetProperty("score").GetInt32())!.Clone();
        Assert.Equal(customerId, last.GetProperty("customerId").GetGuid());
        Assert.Equal(70, last.GetProperty("score").GetInt32());
        Assert.Equal(["repeat_contact", "channel_switch"], last.GetProperty("drivers").EnumerateArray().Select(d => d.GetProperty("name").GetString()));

        // On the wire each score carries its outbox row's id as MessageId (the inboxes dedupe on it) and the row's commit
        // time as sentTime (the consumers' stage lag is measured from it), not the moment the relay got to it.
        var published = _pipeline.Tap.Of("EffortScored").Where(m => ids.Contains(m.Message.GetProperty("contactEventId").GetGuid())).ToList();
        var rows = (await _pipeline.Query("select id, created_at from effort.outbox where id = any(@ids)",
            r => (Id: r.GetGuid(0), CreatedAt: r.GetFieldValue<DateTimeOffset>(1)), ("ids", published.Select(m => m.MessageId).ToArray()))).ToDictionary(r => r.Id, r => r.CreatedAt);
        Assert.All(published, m =>
        {
            Assert.True(rows.TryGetValue(m.MessageId, out var committed), $"no effort outbox row has the id {m.MessageId}");
            Assert.NotNull(m.SentTime);
            Assert.True(Math.Abs((m.SentTime.Value - committed).TotalMilliseconds) < 1, $"sentTime {m.SentTime:O}, outbox row {committed:O}");
        });

        var webhook = Assert.Single(Webhooks());
        Assert.True(webhook.SignatureValid, "the CRM could not verify the webhook signature");
        Assert.Equal(traceId, webhook.Traceparent?.Split('-')[1]);
        var alert = JsonDocument.Parse(webhook.Body).RootElement;
        Assert.Equal("alert.raised", alert.GetProperty("type").GetString());
        Assert.Equal("high_effort", alert.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal(70, alert.GetProperty("data").GetProperty("score").GetInt32());
        Assert.Equal(webhook.Id, alert.GetProperty("data").GetProperty("alertId").GetString());
        Assert.Single(_pipeline.Tap.Of("HighEffortAlertRaised"), m => m.Message.GetProperty("customerId").GetGuid() == customerId);
        Assert.Equal("quorum", await _pipeline.Isolation.RabbitMqServer.QueueTypeAsync(_pipeline.Isolation.Name, "identity-contact-events"));
    }

    [Fact]
    public async Task A_customers_open_alerts_are_read_through_the_gateway_and_only_by_its_tenant()
    {
        using var http = _pipeline.Client();
        var ids = new List<Guid>();
        foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, phone: "+44 20 7946 0111", email: "alerts.read@example.com", idPrefix: "alerts-read"))
        {
            ids.Add((await TestPipeline.Push(http, e)).Id);
        }
        ReceivedWebhook? Webhook() => _pipeline.Crm.Received.FirstOrDefault(w =>
            ids.Contains(JsonDocument.Parse(w.Body).RootElement.GetProperty("data").GetProperty("contactEventId").GetGuid()));
        await TestPipeline.Eventually(() => Task.FromResult(Webhook() is not null), TimeSpan.FromSeconds(90), () => Task.FromResult("no alert yet"));
        var raised = JsonDocument.Parse(Webhook()!.Body).RootElement.GetProperty("data");
        var customerId = raised.GetProperty("customerId").GetGuid();

        var page = await http.GetFromJsonAsync<JsonElement>($"v1/alerts?customerId={customerId}&status=open");
        var alert = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal(raised.GetProperty("alertId").GetGuid(), alert.GetProperty("id").GetGuid());
        Assert.Equal(("high_effort", "open", customerId), (alert.GetProperty("reason").GetString(), alert.GetProperty("status").GetString(), alert.GetProperty("customerId").GetGuid()));
        Assert.False(page.TryGetProperty("next", out var next) && next.ValueKind != JsonValueKind.Null, "one alert fits one page");
        var one = await http.GetFromJsonAsync<JsonElement>($"v1/alerts/{alert.GetProperty("id").GetGuid()}");
        Assert.Equal(alert.GetProperty("score").GetInt32(), one.GetProperty("score").GetInt32());

        // Another tenant sees none of it.
        using var other = _pipeline.Client(_pipeline.KeyB);
        var theirs = await other.GetFromJsonAsync<JsonElement>($"v1/alerts?customerId={customerId}");
        Assert.Equal(0, theirs.GetProperty("items").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/alerts/{alert.GetProperty("id").GetGuid()}")).StatusCode);

        // Bad queries name the parameter and the rule.
        using var bad = await http.GetAsync("v1/alerts?status=closed&limit=0&customerId=nope");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["customerId", "limit", "status"], errors.EnumerateObject().Select(e => e.Name).Order());
    }

    [Fact]
    public async Task The_same_event_submitted_twice_is_accepted_once()
    {
        using var http = _pipeline.Client();
        var e = SampleJourney.Events(DateTimeOffset.UtcNow, phone: "+33 1 23 45 67 89", email: "twice@example.com", idPrefix: "twice")[0];
        var first = await TestPipeline.Push(http, e);
        var second = await TestPipeline.Push(http, e);

        Assert.False(first.Duplicate);
        Assert.True(second.Duplicate);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(1, await _pipeline.Count("select count(*) from ingestion.outbox where id = @id", ("id", first.Id)));
    }

    [Fact]
    public async Task The_same_event_submitted_many_times_at_once_among_others_is_stored_once_and_every_answer_names_it()
    {
        // Requests that arrive together share ingestion's transactions: copies of one event in one of them still make one.
        using var http = _pipeline.Client();
        var now = DateTimeOffset.UtcNow;
        var repeated = SampleJourney.Events(now, phone: "+33 1 23 45 67 10", email: "many@example.com", idPrefix: "many")[0];
        var others = Enumerable.Range(0, 20)
            .Select(i => SampleJourney.Events(now, phone: $"+33 1 23 45 {60 + i} 11", email: $"other{i}@example.com", idPrefix: $"other{i}")[0]).ToList();
        var copies = Enumerable.Range(0, 20).Select(_ => TestPipeline.Push(http, repeated)).ToList();
        var rest = others.Select(e => TestPipeline.Push(http, e)).ToList();
        var answers = await Task.WhenAll(copies);
        var otherAnswers = await Task.WhenAll(rest);

        Assert.Single(answers.Select(a => a.Id).Distinct());
        Assert.Equal(1, answers.Count(a => !a.Duplicate));
        Assert.Equal(1, await _pipeline.Count("select count(*) from ingestion.outbox where id = @id", ("id", answers[0].Id)));
        Assert.All(otherAnswers, a => Assert.False(a.Duplicate));
        Assert.Equal(20, otherAnswers.Select(a => a.Id).Distinct().Count());
        Assert.Equal(20, await _pipeline.Count("select count(*) from ingestion.outbox where id = any(@ids)", ("ids", otherAnswers.Select(a => a.Id).ToArray())));
    }

    [Fact]
    public async Task An_invalid_event_is_refused_naming_each_field_and_nothing_is_stored()
    {
        using var http = _pipeline.Client();
        var before = await _pipeline.Count("select count(*) from ingestion.received_events");
        using var response = await http.PostAsJsonAsync("v1/events", new
        {
            source = "web", sourceEventId = "bad-1", contactId = "c", channel = "pigeon", kind = "message",
            occurredAt = DateTimeOffset.UtcNow.AddDays(2), identifiers = new { phone = "call me", email = "nobody" },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal);
        Assert.Equal(["channel", "identifiers.email", "identifiers.phone", "occurredAt"], fields);
        Assert.Equal(before, await _pipeline.Count("select count(*) from ingestion.received_events"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("ck_not-a-real-key")]
    public async Task A_missing_or_unknown_key_is_401(string? key)
    {
        using var http = new HttpClient { BaseAddress = _pipeline.Pipeline.GatewayAddress };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }
        http.DefaultRequestHeaders.Add("X-Contacts-Tenant", TestPipeline.TenantA);
        using var response = await http.PostAsJsonAsync("v1/events", SampleJourney.Events(DateTimeOffset.UtcNow)[0]);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task One_tenant_cannot_read_another_tenants_customer_whatever_headers_it_sends()
    {
        using var a = _pipeline.Client(_pipeline.KeyA);
        var (id, _) = await TestPipeline.Push(a, SampleJourney.Events(DateTimeOffset.UtcNow, phone: "+49 30 1234567", email: "iso@example.com", idPrefix: "iso")[0]);
        JsonElement customer = default;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await a.GetAsync("v1/customers?phone=%2B49301234567");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                customer = await response.Content.ReadFromJsonAsync<JsonElement>();
            }
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult("tenant A never saw its customer"));
        Assert.Equal(id, customer.GetProperty("timeline")[0].GetProperty("contactEventId").GetGuid());

        using var b = _pipeline.Client(_pipeline.KeyB);
        b.DefaultRequestHeaders.Add("X-Contacts-Tenant", TestPipeline.TenantA);
        b.DefaultRequestHeaders.Add("X-Contacts-Internal-Key", "guessed");
        // Written with B's key while claiming to be A: it lands in B, and A's customer does not change.
        var (written, _) = await TestPipeline.Push(b, SampleJourney.Events(DateTimeOffset.UtcNow, phone: "+49 30 1234567", email: "iso@example.com", idPrefix: "iso-b")[0]);
        Assert.Equal([TestPipeline.TenantB], await _pipeline.Query("select tenant_id from ingestion.received_events where event_id = @id",
            r => r.GetString(0), ("id", written)));
        using var byId = await b.GetAsync($"v1/customers/{customer.GetProperty("id").GetGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, byId.StatusCode);
        await TestPipeline.Eventually(async () => await _pipeline.Count("select count(*) from identity.timeline where contact_event_id = @id", ("id", written)) == 1,
            TimeSpan.FromSeconds(30), () => Task.FromResult("B's event never reached identity"));
        var byPhoneAsB = await b.GetFromJsonAsync<JsonElement>("v1/customers?phone=%2B49301234567");
        Assert.NotEqual(customer.GetProperty("id").GetGuid(), byPhoneAsB.GetProperty("id").GetGuid());
        var stillA = await a.GetFromJsonAsync<JsonElement>($"v1/customers/{customer.GetProperty("id").GetGuid()}");
        Assert.Equal(1, stillA.GetProperty("timeline").GetArrayLength());
    }

    [Fact]
    public async Task A_batch_answers_for_each_item_and_stores_only_the_valid_ones()
    {
        using var http = _pipeline.Client();
        var good = SampleJourney.Events(DateTimeOffset.UtcNow, phone: "+34 91 123 4567", email: "batch@example.com", idPrefix: "batch");
        var bad = new { source = "web", sourceEventId = "batch-bad", contactId = "c", channel = "fax", kind = "message",
            occurredAt = DateTimeOffset.UtcNow, identifiers = new { email = "batch@example.com" } };
        var wrongType = new { source = "web", sourceEventId = "batch-wrong", contactId = "c", channel = "chat", kind = "message",
            occurredAt = 12345, identifiers = new { email = "batch@example.com" } };
        using var response = await http.PostAsJsonAsync("v1/events/batch", new { events = new object[] { good[0], bad, good[1], wrongType, good[0] } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((3, 2), (result.GetProperty("accepted").GetInt32(), result.GetProperty("rejected").GetInt32()));
        var items = result.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([202, 400, 202, 400, 202], items.Select(i => i.GetProperty("status").GetInt32()));
        Assert.True(items[1].GetProperty("errors").TryGetProperty("channel", out _));
        Assert.True(items[3].GetProperty("errors").TryGetProperty("occurredAt", out _));
        Assert.True(items[4].GetProperty("duplicate").GetBoolean());
        Assert.Equal(items[0].GetProperty("id").GetGuid(), items[4].GetProperty("id").GetGuid());
        Assert.Equal(0, await _pipeline.Count("select count(*) from ingestion.received_events where source_event_id in ('batch-bad', 'batch-wrong')"));
    }

    [Fact]
    public async Task Oversize_batches_and_bodies_are_413_and_wrong_content_types_415()
    {
        using var http = _pipeline.Client();
        var many = Enumerable.Range(0, 501).Select(i => SampleJourney.Events(DateTimeOffset.UtcNow, idPrefix: $"many{i}")[0]).ToArray();
        using var tooMany = await http.PostAsJsonAsync("v1/events/batch", new { events = many });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMany.StatusCode);

        using var huge = await http.PostAsync("v1/events", new StringContent($"{{\"topic\":\"{new string('x', 70_000)}\"}}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);

        using var form = await http.PostAsync("v1/events", new FormUrlEncodedContent([new("channel", "voice")]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
        Assert.Equal("application/problem+json", form.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_tenant_over_its_rate_limit_gets_429_with_retry_after_and_others_are_unaffected()
    {
        using var limited = _pipeline.Client(_pipeline.KeyLimited);
        var statuses = new List<HttpResponseMessage>();
        for (var i = 0; i < 8; i++)
        {
            statuses.Add(await limited.GetAsync($"v1/customers/{Guid.NewGuid()}"));
        }
        var throttled = statuses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(throttled);
        Assert.All(throttled, r => Assert.True(r.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1)));
        Assert.Contains(statuses, r => r.StatusCode == HttpStatusCode.NotFound);

        using var other = _pipeline.Client(_pipeline.KeyB);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
        statuses.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task An_operator_creates_a_key_that_works_at_once_and_stops_working_when_revoked()
    {
        using var admin = new HttpClient { BaseAddress = _pipeline.Pipeline.GatewayAddress };
        using var denied = await admin.PostAsJsonAsync("admin/tenants/acme/keys", new { name = "x" });
        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);

        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _pipeline.Pipeline.Settings.OperatorKey);
        using var created = await admin.PostAsJsonAsync("admin/tenants/acme/keys", new { name = "acme-genesys" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = await created.Content.ReadFromJsonAsync<JsonElement>();

        using var acme = _pipeline.Client(key.GetProperty("key").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await acme.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
        var listed = await admin.GetFromJsonAsync<JsonElement>("admin/tenants/acme/keys");
        Assert.DoesNotContain(key.GetProperty("key").GetString()!, listed.ToString());

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"admin/keys/{key.GetProperty("id").GetGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await acme.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
        using var badTenant = await admin.PostAsJsonAsync("admin/tenants/Not%20A%20Slug/keys", new { name = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, badTenant.StatusCode);
    }

    [Fact]
    public async Task The_whole_public_surface_is_described_at_one_address()
    {
        using var http = new HttpClient { BaseAddress = _pipeline.Pipeline.GatewayAddress };
        var document = await http.GetFromJsonAsync<JsonElement>("openapi/v1.json");
        Assert.Equal("3.1.1", document.GetProperty("openapi").GetString());
        Assert.True(document.GetProperty("paths").TryGetProperty("/v1/events/batch", out _));
    }

    private const string TwilioToken = "e2e-twilio-auth-token";
    private const string ZendeskSecret = "e2e-zendesk-signing-secret";
    private const string WebhookSecret = "whsec_ZTJlLXN0YW5kYXJkLXdlYmhvb2tzLXNlY3JldA==";

    private static byte[] Fixture(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "PlatformFixtures", name));

    /// <summary>A platform's request as it would sign it, to the gateway's webhook address for that platform.</summary>
    private HttpRequestMessage PlatformRequest(string platform, string fixture, bool wrongSignature = false)
    {
        var url = new Uri(_pipeline.Pipeline.GatewayAddress, $"v1/webhooks/{platform}");
        var body = Fixture(fixture);
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _pipeline.KeyA);
        var now = DateTimeOffset.UtcNow;
        switch (platform)
        {
            case "twilio":
                request.Content.Headers.ContentType = new("application/x-www-form-urlencoded");
                var form = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(System.Text.Encoding.UTF8.GetString(body)).ToDictionary(p => p.Key, p => p.Value.ToString());
                request.Headers.Add("X-Twilio-Signature", Contacts.Ingestion.Platforms.TwilioAdapter.Sign(wrongSignature ? "not-the-token" : TwilioToken, url.ToString(), form));
                break;
            case "zendesk":
                request.Content.Headers.ContentType = new("application/json");
                var stamp = now.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
                request.Headers.Add("X-Zendesk-Webhook-Signature-Timestamp", stamp);
                request.Headers.Add("X-Zendesk-Webhook-Signature", Contacts.Ingestion.Platforms.ZendeskAdapter.Sign(wrongSignature ? "nope" : ZendeskSecret, stamp, body));
                break;
            case "webhook":
                request.Content.Headers.ContentType = new("application/json");
                var seconds = now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
                request.Headers.Add("webhook-id", "msg_e2e");
                request.Headers.Add("webhook-timestamp", seconds);
                request.Headers.Add("webhook-signature", Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Sign(
                    wrongSignature ? "whsec_bm90LXRoZS1zZWNyZXQ=" : WebhookSecret, "msg_e2e", seconds, body));
                break;
            default:
                request.Content.Headers.ContentType = new("application/json");
                break;
        }
        return request;
    }

    [Theory]
    [InlineData("amazon-connect", "amazon-connect-disconnected.json", "voice")]
    [InlineData("genesys-cloud", "genesys-cloud-customer-start.json", "voice")]
    [InlineData("twilio", "twilio-call-completed.form", "voice")]
    [InlineData("zendesk", "zendesk-ticket-created.json", "web_form")]
    [InlineData("webhook", "webhook-canonical.json", "chat")]
    public async Task A_platforms_own_webhook_is_verified_mapped_stored_once_and_stitched(string platform, string fixture, string channel)
    {
        using var http = new HttpClient();
        using var first = await http.SendAsync(PlatformRequest(platform, fixture));
        var body = await first.Content.ReadAsStringAsync();
        Assert.True(first.StatusCode == HttpStatusCode.Accepted, body);
        var id = JsonDocument.Parse(body).RootElement.GetProperty("results")[0].GetProperty("id").GetGuid();

        using var replay = await http.SendAsync(PlatformRequest(platform, fixture));
        var again = JsonDocument.Parse(await replay.Content.ReadAsStringAsync()).RootElement.GetProperty("results")[0];
        Assert.Equal((id, true), (again.GetProperty("id").GetGuid(), again.GetProperty("duplicate").GetBoolean()));
        Assert.Equal(1, await _pipeline.Count("select count(*) from ingestion.outbox where id = @id", ("id", id)));

        await TestPipeline.Eventually(async () =>
            (await _pipeline.Query("select channel from identity.timeline where contact_event_id = @id", r => r.GetString(0), ("id", id))).SequenceEqual([channel]),
            TimeSpan.FromSeconds(30), () => Task.FromResult($"{platform} event {id} not in the timeline as {channel}"));
    }

    [Theory]
    [InlineData("twilio", "twilio-call-completed.form", "X-Twilio-Signature")]
    [InlineData("zendesk", "zendesk-ticket-created.json", "X-Zendesk-Webhook-Signature")]
    [InlineData("webhook", "webhook-canonical.json", "webhook-signature")]
    public async Task A_platform_webhook_with_a_wrong_signature_is_401_and_stores_nothing(string platform, string fixture, string header)
    {
        var before = await _pipeline.Count("select count(*) from ingestion.received_events");
        using var http = new HttpClient();
        using var response = await http.SendAsync(PlatformRequest(platform, fixture, wrongSignature: true));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith(header, problem.GetProperty("detail").GetString());
        Assert.Equal(before, await _pipeline.Count("select count(*) from ingestion.received_events"));
    }
}
