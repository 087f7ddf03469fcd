using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Contacts.Contracts;
using Contacts.IntegrationTests.Infrastructure;
using RabbitMQ.Client;

namespace Contacts.IntegrationTests;

/// <summary>
/// Effort through the gateway as a CRM or agent sees it: contacts folded from their events, transfers, hold and CES driving
/// the score, the customer's context in one call, settings that re-score history, and calibration. A pipeline of its own,
/// because changing a tenant's settings re-scores everything that tenant has.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class EffortEndToEndTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;

    public async Task InitializeAsync() =>
        _pipeline = await servers.Shared("effort-e2e", async () => await TestPipeline.Create(await servers.Isolate("effort_e2e")));

    public Task DisposeAsync() => Task.CompletedTask;

    private static object Event(string phone, string contactId, string channel, string kind, DateTimeOffset at, string source = "amazon-connect",
        string topic = "billing", object? measures = null, int? ces = null, string? initial = null, string? previous = null) => new
    {
        source, sourceEventId = $"{contactId}-{kind}-{Guid.NewGuid():N}", contactId, channel, direction = "inbound", kind, occurredAt = at,
        identifiers = new { phone }, topic, measures, survey = ces is null ? null : new { cesScore = ces },
        initialContactId = initial, previousContactId = previous,
    };

    private static string NewPhone() => $"+4479{Random.Shared.Next(10_000_000, 99_999_999)}";

    private static async Task<Guid> CustomerOf(HttpClient http, string phone)
    {
        var id = Guid.Empty;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers?phone={Uri.EscapeDataString(phone)}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            }
            return id != Guid.Empty;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult("no customer yet"));
        return id;
    }

    /// <summary>Polls the customer's effort until it satisfies the condition.</summary>
    private static async Task<JsonElement> EffortWhen(HttpClient http, Guid customerId, Func<JsonElement, bool> condition)
    {
        JsonElement effort = default;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers/{customerId}/effort");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }
            effort = (await response.Content.ReadFromJsonAsync<JsonElement>()).Clone();
            return condition(effort);
        }, TimeSpan.FromSeconds(60), () => Task.FromResult($"effort so far: {effort}"));
        return effort;
    }

    private static Dictionary<string, int> Points(JsonElement drivers) =>
        drivers.EnumerateArray().ToDictionary(d => d.GetProperty("name").GetString()!, d => d.GetProperty("points").GetInt32());

    [Fact]
    public async Task A_call_reported_started_and_ended_is_one_contact_and_transfers_hold_and_CES_drive_the_score()
    {
        using var http = _pipeline.Client();
        var phone = NewPhone();
        var at = DateTimeOffset.UtcNow.AddHours(-3);
        var call = $"call-{Guid.NewGuid():N}";
        var leg2 = $"{call}-2";
        // Arrival order differs from the order things happened in: the end of the second leg comes before its transfer.
        await TestPipeline.Push(http, Event(phone, call, "voice", "started", at));
        await TestPipeline.Push(http, Event(phone, leg2, "voice", "ended", at.AddMinutes(12), initial: call, previous: call,
            measures: new { holdSeconds = 300, queueWaitSeconds = 30, transfers = 1 }));
        await TestPipeline.Push(http, Event(phone, leg2, "voice", "transferred", at.AddMinutes(4), initial: call, previous: call));
        await TestPipeline.Push(http, Event(phone, call, "voice", "survey_answered", at.AddMinutes(20), ces: 2));
        var customerId = await CustomerOf(http, phone);

        var effort = await EffortWhen(http, customerId, e => e.GetProperty("cesAnswers").GetArrayLength() == 1
            && e.GetProperty("openJourneys")[0].GetProperty("contacts")[0].GetProperty("contactEventIds").GetArrayLength() == 4);
        var journey = Assert.Single(effort.GetProperty("openJourneys").EnumerateArray());
        var contact = Assert.Single(journey.GetProperty("contacts").EnumerateArray());
        Assert.Equal($"amazon-connect:{call}", contact.GetProperty("id").GetString());
        Assert.Equal(1, contact.GetProperty("transfers").GetInt32());
        Assert.Equal(300, contact.GetProperty("holdSeconds").GetDouble());
        // One contact: no repeat. Transfer 10 + hold over 120 s 10 predicted; CES 2 adds 30 as observed truth.
        Assert.Equal(new Dictionary<string, int> { ["transfer"] = 10, ["long_hold"] = 10, ["low_ces"] = 30 }, Points(effort.GetProperty("drivers")));
        Assert.Equal((50, 20), (effort.GetProperty("score").GetInt32(), effort.GetProperty("predictedScore").GetInt32()));
        var answer = Assert.Single(effort.GetProperty("cesAnswers").EnumerateArray());
        Assert.Equal((2, 20), (answer.GetProperty("cesScore").GetInt32(), answer.GetProperty("predictedScore").GetInt32()));
        var hold = effort.GetProperty("drivers").EnumerateArray().Single(d => d.GetProperty("name").GetString() == "long_hold");
        Assert.Equal(300, hold.GetProperty("value").GetDouble());
        Assert.Equal([$"amazon-connect:{call}"], hold.GetProperty("contactIds").EnumerateArray().Select(c => c.GetString()));

        // The last EffortScored for the customer says the same, at the version the read shows; versions only rise.
        var version = effort.GetProperty("version").GetInt64();
        List<JsonElement> Scores() => [.. _pipeline.Tap.Of("EffortScored").Select(m => m.Message)
            .Where(s => s.GetProperty("customerId").GetGuid() == customerId)];
        await TestPipeline.Eventually(() => Task.FromResult(Scores().Any(s => s.GetProperty("version").GetInt64() == version)),
            TimeSpan.FromSeconds(30), () => Task.FromResult($"{Scores().Count} scores"));
        var latest = Scores().MaxBy(s => s.GetProperty("version").GetInt64());
        Assert.Equal(50, latest.GetProperty("score").GetInt32());
        Assert.Equal(Scores().Count, Scores().Select(s => s.GetProperty("version").GetInt64()).Distinct().Count());

        // The context: who, the open journey with its transfers and waits, the score and its drivers, in one call.
        var context = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{customerId}/context");
        Assert.Equal(customerId, context.GetProperty("customerId").GetGuid());
        Assert.Contains(context.GetProperty("identifiers").EnumerateArray(), i => i.GetProperty("type").GetString() == "phone");
        Assert.Equal(50, context.GetProperty("score").GetInt32());
        var open = context.GetProperty("openJourney");
        Assert.Equal("billing", open.GetProperty("topic").GetString());
        Assert.Equal((1, 1, 300d, 30d), (open.GetProperty("contacts").GetInt32(), open.GetProperty("transfers").GetInt32(),
            open.GetProperty("holdSeconds").GetDouble(), open.GetProperty("queueWaitSeconds").GetDouble()));
        Assert.Equal(["voice"], open.GetProperty("channelsTried").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("voice", open.GetProperty("lastContact").GetProperty("channel").GetString());
        Assert.DoesNotContain("effort", context.GetProperty("unavailable").EnumerateArray().Select(u => u.GetString()));
    }

    [Fact]
    public async Task Unknown_customers_are_404_on_effort_and_context()
    {
        using var http = _pipeline.Client();
        using var effort = await http.GetAsync($"v1/customers/{Guid.NewGuid()}/effort");
        using var context = await http.GetAsync($"v1/customers/{Guid.NewGuid()}/context");
        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (effort.StatusCode, context.StatusCode));
        Assert.Equal("application/problem+json", context.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Changing_the_settings_rescores_the_tenants_journeys_by_replay()
    {
        using var http = _pipeline.Client(_pipeline.KeyB);
        var phone = NewPhone();
        var at = DateTimeOffset.UtcNow.AddHours(-5);
        await TestPipeline.Push(http, Event(phone, $"c1-{Guid.NewGuid():N}", "voice", "ended", at));
        await TestPipeline.Push(http, Event(phone, $"c2-{Guid.NewGuid():N}", "chat", "message", at.AddHours(1), source: "web"));
        var customerId = await CustomerOf(http, phone);
        var before = await EffortWhen(http, customerId, e => e.GetProperty("score").GetInt32() == 35);

        using (var invalid = await http.PutAsJsonAsync("v1/settings/effort", new { windowDays = 0, weights = new { transfer = 500 }, thresholds = new { } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
            var problem = await invalid.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(["weights.transfer", "windowDays"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        }

        using var put = await http.PutAsJsonAsync("v1/settings/effort", new
        {
            windowDays = 7, weights = new { repeatContact = 40, channelSwitch = 0 }, thresholds = new { holdSeconds = 60 },
        });
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        var location = put.Headers.Location!.ToString();
        Assert.StartsWith("/v1/settings/effort/replays/", location);
        JsonElement replay = default;
        await TestPipeline.Eventually(async () =>
        {
            replay = await http.GetFromJsonAsync<JsonElement>(location.TrimStart('/'));
            return replay.GetProperty("status").GetString() == "done";
        }, TimeSpan.FromSeconds(60), () => Task.FromResult($"replay: {replay}"));
        Assert.True(replay.GetProperty("rescored").GetInt32() >= 1);

        var settings = await http.GetFromJsonAsync<JsonElement>("v1/settings/effort");
        Assert.Equal(40, settings.GetProperty("settings").GetProperty("weights").GetProperty("repeatContact").GetInt32());
        Assert.Equal(60, settings.GetProperty("settings").GetProperty("thresholds").GetProperty("holdSeconds").GetInt32());
        var after = await EffortWhen(http, customerId, _ => true);
        Assert.Equal(new Dictionary<string, int> { ["repeat_contact"] = 40 }, Points(after.GetProperty("drivers")));
        Assert.Equal(40, after.GetProperty("score").GetInt32());
        Assert.True(after.GetProperty("version").GetInt64() > before.GetProperty("version").GetInt64());
        await TestPipeline.Eventually(() => Task.FromResult(_pipeline.Tap.Of("EffortScored").Select(m => m.Message).Any(s =>
                s.GetProperty("customerId").GetGuid() == customerId && s.GetProperty("score").GetInt32() == 40
                && s.GetProperty("version").GetInt64() == after.GetProperty("version").GetInt64())),
            TimeSpan.FromSeconds(30), () => Task.FromResult("no re-scored EffortScored"));

        // New contacts are scored with the new settings too; the other tenant keeps the defaults.
        await TestPipeline.Push(http, Event(phone, $"c3-{Guid.NewGuid():N}", "email", "message", at.AddHours(2), source: "zendesk"));
        await EffortWhen(http, customerId, e => e.GetProperty("score").GetInt32() == 80);
        using var other = _pipeline.Client();
        var defaults = await other.GetFromJsonAsync<JsonElement>("v1/settings/effort");
        Assert.Equal(20, defaults.GetProperty("settings").GetProperty("weights").GetProperty("repeatContact").GetInt32());
    }

    [Fact]
    public async Task Calibration_ranks_predicted_effort_against_the_CES_answers()
    {
        using var http = _pipeline.Client(_pipeline.KeyLimited);
        var at = DateTimeOffset.UtcNow.AddHours(-6);
        async Task Journey(int contacts, int transfers, int ces)
        {
            var phone = NewPhone();
            string? first = null;
            for (var i = 0; i < contacts; i++)
            {
                var id = $"k{i}-{Guid.NewGuid():N}";
                first ??= id;
                await TestPipeline.Push(http, Event(phone, id, i % 2 == 0 ? "voice" : "chat", "ended", at.AddMinutes(i * 10),
                    measures: new { transfers }));
            }
            await TestPipeline.Push(http, Event(phone, first!, "voice", "survey_answered", at.AddMinutes(contacts * 10 + 5), ces: ces));
        }
        await Journey(1, 0, 7);
        await Journey(2, 0, 4);
        await Journey(3, 2, 1);

        JsonElement calibration = default;
        await TestPipeline.Eventually(async () =>
        {
            // Contacts are scored as they arrive, in any order: wait until every one of them is in.
            calibration = await http.GetFromJsonAsync<JsonElement>("v1/effort/calibration");
            return calibration.GetProperty("byCesScore").EnumerateArray()
                .Select(b => (b.GetProperty("cesScore").GetInt32(), b.GetProperty("meanPredictedScore").GetDouble()))
                .SequenceEqual([(1, 100.0), (4, 35.0), (7, 0.0)]);
        }, TimeSpan.FromSeconds(60), () => Task.FromResult($"calibration: {calibration}"));
        Assert.Equal(3, calibration.GetProperty("journeys").GetInt32());
        Assert.Equal(-1, calibration.GetProperty("spearmanCorrelation").GetDouble());
    }

    /// <summary>Publishes as identity would (MassTransit's envelope on the message type's exchange), with a chosen message id.</summary>
    private async Task PublishAsIdentity<T>(T message, Guid messageId) where T : class
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

    [Fact]
    public async Task A_split_rescores_both_customers_and_an_erasure_forgets_the_customer_exactly_once()
    {
        using var http = _pipeline.Client();
        var (phoneX, phoneY) = (NewPhone(), NewPhone());
        var at = DateTimeOffset.UtcNow.AddHours(-4);
        var (x1, _) = await TestPipeline.Push(http, Event(phoneX, $"x1-{Guid.NewGuid():N}", "voice", "ended", at));
        var (x2, _) = await TestPipeline.Push(http, Event(phoneX, $"x2-{Guid.NewGuid():N}", "chat", "message", at.AddHours(1), source: "web"));
        var (y1, _) = await TestPipeline.Push(http, Event(phoneY, $"y1-{Guid.NewGuid():N}", "voice", "ended", at.AddMinutes(30)));
        var (x, y) = (await CustomerOf(http, phoneX), await CustomerOf(http, phoneY));
        var beforeX = await EffortWhen(http, x, e => e.GetProperty("score").GetInt32() == 35);
        var beforeY = await EffortWhen(http, y, e => e.GetProperty("openJourneys").GetArrayLength() == 1);

        // Identity found the chat was Y's: X keeps its call, Y takes the chat beside its own call.
        await PublishAsIdentity(new CustomerSplit(Guid.NewGuid(), TestPipeline.TenantA, x, y, [x1], [x2, y1], DateTimeOffset.UtcNow), Guid.NewGuid());
        var afterX = await EffortWhen(http, x, e => e.GetProperty("version").GetInt64() > beforeX.GetProperty("version").GetInt64());
        var afterY = await EffortWhen(http, y, e => e.GetProperty("version").GetInt64() > beforeY.GetProperty("version").GetInt64());
        Assert.Equal(0, afterX.GetProperty("score").GetInt32());
        Assert.Equal(35, afterY.GetProperty("score").GetInt32());
        Assert.Equal(2, afterY.GetProperty("openJourneys")[0].GetProperty("contacts").GetArrayLength());
        await TestPipeline.Eventually(() => Task.FromResult(_pipeline.Tap.Of("EffortScored").Select(m => m.Message).Any(s =>
                s.GetProperty("customerId").GetGuid() == y && s.GetProperty("version").GetInt64() == afterY.GetProperty("version").GetInt64()
                && s.GetProperty("score").GetInt32() == 35)),
            TimeSpan.FromSeconds(30), () => Task.FromResult("no EffortScored for the restored customer"));

        // Erased, delivered twice with the same message id: forgotten once, and a late contact does not bring Y back.
        var erasure = new CustomerErased(Guid.NewGuid(), TestPipeline.TenantA, y, [], [x2, y1], DateTimeOffset.UtcNow);
        var messageId = Guid.NewGuid();
        await PublishAsIdentity(erasure, messageId);
        await PublishAsIdentity(erasure, messageId);
        await TestPipeline.Eventually(async () => (await http.GetAsync($"v1/customers/{y}/effort")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => Task.FromResult("effort still answers for the erased customer"));
        await TestPipeline.Eventually(async () => await _pipeline.Count(
                "select count(*) from effort.inbox where consumer = 'effort-customer-erased' and message_id = @m", ("m", messageId)) == 1,
            TimeSpan.FromSeconds(30), () => Task.FromResult("erasure not recorded in the inbox"));
        Assert.Equal(0, await _pipeline.Count("select count(*) from effort.mt_events where (data -> 'contact' ->> 'eventId')::uuid = any(@ids) or stream_id = @y",
            ("ids", new[] { x2, y1 }), ("y", y)));
        Assert.Equal(0, await _pipeline.Count("select count(*) from effort.journeys where customer_id = @y", ("y", y)));
        Assert.Equal(1, await _pipeline.Count("select count(*) from effort.erased_customers where customer_id = @y", ("y", y)));

        var (late, _) = await TestPipeline.Push(http, Event(phoneY, $"y2-{Guid.NewGuid():N}", "email", "message", at.AddHours(2), source: "zendesk"));
        await TestPipeline.Eventually(async () =>
            {
                var customer = await http.GetFromJsonAsync<JsonElement>($"v1/customers?phone={Uri.EscapeDataString(phoneY)}");
                return customer.GetProperty("timeline").EnumerateArray().Any(t => t.GetProperty("contactEventId").GetGuid() == late);
            }, TimeSpan.FromSeconds(30), () => Task.FromResult("late contact not attributed"));
        await Task.Delay(2000); // the attribution is on its way to effort
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"v1/customers/{y}/effort")).StatusCode);
        Assert.Equal(0, await _pipeline.Count("select count(*) from effort.mt_events where (data -> 'contact' ->> 'eventId')::uuid = @e", ("e", late)));
    }

    [Fact]
    public async Task The_context_of_a_merged_id_is_the_survivors_with_the_journey_of_both()
    {
        using var http = _pipeline.Client();
        var phone = NewPhone();
        var email = $"merge-{Guid.NewGuid():N}@example.com";
        var at = DateTimeOffset.UtcNow.AddHours(-8);
        object With(object identifiers, string contactId, string channel, DateTimeOffset when, string source) => new
        {
            source, sourceEventId = $"{contactId}-{Guid.NewGuid():N}", contactId, channel, direction = "inbound", kind = "message",
            occurredAt = when, identifiers, topic = "billing",
        };
        await TestPipeline.Push(http, With(new { phone }, $"m1-{Guid.NewGuid():N}", "voice", at, "pbx"));
        var first = await CustomerOf(http, phone);
        await TestPipeline.Push(http, With(new { email }, $"m2-{Guid.NewGuid():N}", "email", at.AddHours(1), "mail"));
        Guid second = Guid.Empty;
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers?email={Uri.EscapeDataString(email)}");
            second = response.StatusCode == HttpStatusCode.OK ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid() : Guid.Empty;
            return second != Guid.Empty;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult("no customer for the email"));
        await EffortWhen(http, second, _ => true);
        Assert.NotEqual(first, second);

        // A chat carrying both identifiers shows they are one person: identity merges, effort folds both journeys.
        await TestPipeline.Push(http, With(new { phone, email }, $"m3-{Guid.NewGuid():N}", "chat", at.AddHours(2), "web"));
        var merged = await EffortWhen(http, second, e => e.GetProperty("openJourneys").EnumerateArray().Sum(j => j.GetProperty("contacts").GetArrayLength()) == 3);
        var survivor = merged.GetProperty("customerId").GetGuid();
        Assert.Contains(survivor, new[] { first, second });
        var mergedAway = survivor == first ? second : first;

        var context = await http.GetFromJsonAsync<JsonElement>($"v1/customers/{mergedAway}/context");
        Assert.Equal(survivor, context.GetProperty("customerId").GetGuid());
        Assert.Equal(mergedAway, context.GetProperty("requestedId").GetGuid());
        Assert.Equal(["email", "phone"], context.GetProperty("identifiers").EnumerateArray().Select(i => i.GetProperty("type").GetString()).Order());
        var journey = context.GetProperty("openJourney");
        Assert.Equal(3, journey.GetProperty("contacts").GetInt32());
        Assert.Equal(["voice", "email", "chat"], journey.GetProperty("channelsTried").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("chat", journey.GetProperty("lastContact").GetProperty("channel").GetString());
        Assert.Equal(70, context.GetProperty("score").GetInt32());
    }
}
