using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging;
using RabbitMQ.Client;

namespace Contacts.IntegrationTests;

/// <summary>
/// Dead letters an operator can act on, through the gateway: contacts that failed while effort's journeys table was gone
/// are listed with their ids, tenant and reason (never the customer's phone or email), and once the table is back a retry
/// sends them on; a copy of one (a retry cut off between its publish and its ack) is absorbed by the inbox.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class DeadLetterAdminTests(ServersFixture servers, ITestOutputHelper output)
{
    private const string Queue = PipelineTopology.EffortContactAttributed;

    [Fact]
    public async Task Contacts_dead_lettered_while_a_table_was_gone_are_listed_without_identifiers_and_retried_once_it_is_back()
    {
        var isolation = await servers.Isolate("deadletters");
        await using var pipeline = await TestPipeline.Create(isolation);
        using var admin = new HttpClient { BaseAddress = pipeline.Pipeline.GatewayAddress, Timeout = TimeSpan.FromSeconds(60) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", pipeline.Pipeline.Settings.OperatorKey);
        using var tenant = pipeline.Client();

        // A tenant's key is not the operator's; and nothing has failed yet.
        using (var refused = await tenant.GetAsync("admin/dead-letters"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        Assert.All((await List(admin)).GetProperty("queues").EnumerateArray(), q => Assert.Equal(0, q.GetProperty("count").GetInt64()));

        // The cause: effort's journeys table is gone (a bad migration), a permanent error, so each contact is dead-lettered.
        await pipeline.Query("alter table effort.journeys rename to journeys_gone", _ => 0);
        var run = Guid.NewGuid().ToString("N")[..8];
        var people = Enumerable.Range(0, 5).Select(i => (Email: $"dead.{run}.{i}@example.com", Phone: $"+1555{Random.Shared.Next(1000000, 9999999)}")).ToList();
        var ids = new List<Guid>();
        foreach (var (person, i) in people.Select((p, i) => (p, i)))
        {
            ids.Add((await TestPipeline.Push(tenant, new
            {
                source = "deadletters", sourceEventId = $"{run}-{i}", contactId = $"{run}-c{i}", channel = "chat", kind = "message",
                occurredAt = DateTimeOffset.UtcNow, identifiers = new { email = person.Email, phone = person.Phone },
            })).Id);
        }
        JsonElement queue = default;
        await TestPipeline.Eventually(async () => (queue = QueueOf(await List(admin))).GetProperty("count").GetInt64() == ids.Count,
            TimeSpan.FromSeconds(120), () => Task.FromResult(queue.ValueKind == JsonValueKind.Undefined ? "nothing listed" : queue.GetRawText()));

        var raw = queue.GetRawText();
        output.WriteLine(raw);
        var messages = queue.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(ids.Count, messages.Count);
        Assert.Equal(ids.Order(), messages.Select(m => Guid.Parse(Assert.Single(m.GetProperty("contactEventIds").EnumerateArray()).GetString()!)).Order());
        Assert.All(messages, m =>
        {
            Assert.Equal("ContactAttributedBatch", m.GetProperty("type").GetString());
            Assert.Equal(TestPipeline.TenantA, m.GetProperty("tenant").GetString());
            Assert.Contains("journeys", m.GetProperty("reason").GetString());
            Assert.InRange(m.GetProperty("firstSeen").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
            Assert.False(string.IsNullOrEmpty(m.GetProperty("messageId").GetString()));
        });
        Assert.All(people, p => Assert.DoesNotContain(p.Email, raw));
        Assert.All(people, p => Assert.DoesNotContain(p.Phone[1..], raw));
        // Listing took nothing out, and another tenant's filter shows none of them.
        Assert.Equal(ids.Count, await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, Queue + "_error"));
        var other = QueueOf(await List(admin, $"?tenant={TestPipeline.TenantB}"));
        Assert.Equal(ids.Count, other.GetProperty("count").GetInt64());
        Assert.Empty(other.GetProperty("messages").EnumerateArray());

        // A copy of one dead letter, as a retry cut off between its publish and its ack would leave.
        await CopyOne(isolation.RabbitMq, Queue + "_error");

        using (var unknown = await admin.PostAsync("admin/dead-letters/no-such-queue/retry", null))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }
        using (var bad = await admin.PostAsJsonAsync($"admin/dead-letters/{Queue}/retry", new { messageIds = Array.Empty<string>() }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("messageIds", await bad.Content.ReadAsStringAsync());
        }

        // The cause fixed, the operator retries: every contact is scored, once.
        await pipeline.Query("alter table effort.journeys_gone rename to journeys", _ => 0);
        using (var retry = await admin.PostAsync($"admin/dead-letters/{Queue}_error/retry", null))
        {
            var body = await retry.Content.ReadAsStringAsync();
            Assert.True(retry.StatusCode == HttpStatusCode.OK, body);
            var result = JsonSerializer.Deserialize<JsonElement>(body);
            Assert.Equal(Queue, result.GetProperty("queue").GetString());
            Assert.Equal(ids.Count + 1, result.GetProperty("retried").GetInt32());
        }
        async Task<long> Scored() => await pipeline.Count("""
            select count(distinct body->>'contactEventId') from effort.outbox
            where message_type = 'Contacts.Contracts.EffortScored' and (body->>'contactEventId')::uuid = any(@ids)
            """, ("ids", ids.ToArray()));
        await TestPipeline.Eventually(async () => await Scored() == ids.Count, TimeSpan.FromSeconds(60), async () => $"{await Scored()} of {ids.Count} scored");
        await Task.Delay(2000); // long enough for the copy to show itself, were it not absorbed
        Assert.Equal(ids.Count, await pipeline.Count("""
            select count(*) from effort.outbox where message_type = 'Contacts.Contracts.EffortScored' and (body->>'contactEventId')::uuid = any(@ids)
            """, ("ids", ids.ToArray())));
        Assert.Equal(0, QueueOf(await List(admin)).GetProperty("count").GetInt64());
    }

    private static async Task<JsonElement> List(HttpClient admin, string query = "")
    {
        using var response = await admin.GetAsync("admin/dead-letters" + query);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
        return JsonSerializer.Deserialize<JsonElement>(body);
    }

    private static JsonElement QueueOf(JsonElement list) =>
        list.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == Queue);

    private static async Task CopyOne(string rabbitMq, string errorQueue)
    {
        await using var connection = await new ConnectionFactory { Uri = new Uri(rabbitMq) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var got = await channel.BasicGetAsync(errorQueue, autoAck: false) ?? throw new InvalidOperationException($"{errorQueue} is empty");
        await channel.BasicPublishAsync("", errorQueue, true, new BasicProperties(got.BasicProperties), got.Body);
        await channel.BasicNackAsync(got.DeliveryTag, false, requeue: true);
    }
}
