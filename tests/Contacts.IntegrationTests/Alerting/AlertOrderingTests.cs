using System.Text;
using System.Text.Json;
using Contacts.Contracts;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using RabbitMQ.Client;

namespace Contacts.IntegrationTests;

/// <summary>
/// The interleavings that decide alerts, injected one message at a time into the real alerting service (each waited for
/// in its inbox before the next): scores out of order, merges before and after the scores of the customers they fold.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class AlertOrderingTests(ServersFixture servers)
{
    private const string Tenant = "tenant-a";

    [Fact]
    public async Task Scores_in_any_order_raise_one_alert_from_the_newest_state()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("alert_order"), start: [LocalPipeline.Alerting]);
        await using var broker = await Injector.Connect(pipeline);

        // Crossing first, then the stale scores it superseded: one alert, the state stays at the crossing.
        var late = Guid.NewGuid();
        await broker.Deliver(Scored(late, 70, 3), Scored(late, 35, 2), Scored(late, 20, 1));
        Assert.Equal(1, await OpenAlerts(pipeline, late));
        Assert.Equal("3:70", await State(pipeline, late));

        // In order: the crossing is not hidden by the scores before it.
        var inOrder = Guid.NewGuid();
        await broker.Deliver(Scored(inOrder, 20, 1), Scored(inOrder, 35, 2), Scored(inOrder, 70, 3), Scored(inOrder, 80, 4));
        Assert.Equal(1, await OpenAlerts(pipeline, inOrder));
        Assert.Equal("4:80", await State(pipeline, inOrder));

        // A stale high score after a newer low one: the customer's current state is low, no alert.
        var recovered = Guid.NewGuid();
        await broker.Deliver(Scored(recovered, 20, 4), Scored(recovered, 70, 3));
        Assert.Equal(0, await OpenAlerts(pipeline, recovered));
        Assert.Equal("4:20", await State(pipeline, recovered));

        await AssertWebhooks(pipeline, (late, 1), (inOrder, 1), (recovered, 0));
    }

    [Fact]
    public async Task Alerts_follow_merges_whatever_order_scores_and_merges_arrive_in()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("alert_merge"), start: [LocalPipeline.Alerting]);
        await using var broker = await Injector.Connect(pipeline);

        // The merged customer crossed alone; the merge then moves its alert to the survivor, whose own crossing adds none.
        var (survivor1, merged1) = (Guid.NewGuid(), Guid.NewGuid());
        await broker.Deliver(Scored(merged1, 70, 3), Merged(survivor1, merged1), Scored(survivor1, 90, 6));
        Assert.Equal((1, 0), (await OpenAlerts(pipeline, survivor1), await OpenAlerts(pipeline, merged1)));

        // Both crossed before the merge was known: the merge leaves one open alert, the survivor's.
        var (survivor2, merged2) = (Guid.NewGuid(), Guid.NewGuid());
        await broker.Deliver(Scored(survivor2, 90, 6), Scored(merged2, 70, 3), Merged(survivor2, merged2));
        Assert.Equal((1, 0), (await OpenAlerts(pipeline, survivor2), await OpenAlerts(pipeline, merged2)));
        Assert.Equal(1, await pipeline.Count("select count(*) from alerting.alerts where customer_id = @c and status = 'merged'", ("c", merged2)));

        // The merge first: the merged customer's late score (computed before effort folded it) is stale and raises nothing.
        var (survivor3, merged3) = (Guid.NewGuid(), Guid.NewGuid());
        await broker.Deliver(Merged(survivor3, merged3), Scored(merged3, 70, 3), Scored(survivor3, 35, 4));
        Assert.Equal((0, 0), (await OpenAlerts(pipeline, survivor3), await OpenAlerts(pipeline, merged3)));

        // A chain whose merges arrive backwards (A into C before B into A): B's alert ends on C, the last survivor.
        var (a, b, c) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await broker.Deliver(Scored(b, 70, 3), Merged(c, a), Merged(a, b));
        Assert.Equal((1, 0, 0), (await OpenAlerts(pipeline, c), await OpenAlerts(pipeline, a), await OpenAlerts(pipeline, b)));

        // The survivor's crossing (effort scored it from both parts' contacts) overtakes identity's merge: the score names
        // the merged part, so alerting folds the merge first and the part's alert carries on; the late merge changes nothing.
        var (survivor4, merged4) = (Guid.NewGuid(), Guid.NewGuid());
        await broker.Deliver(Scored(merged4, 70, 3), Scored(survivor4, 90, 6) with { MergedCustomerIds = [merged4] }, Merged(survivor4, merged4));
        Assert.Equal((1, 0), (await OpenAlerts(pipeline, survivor4), await OpenAlerts(pipeline, merged4)));

        // The same overtaking, the part's crossing arriving last: it is stale (its customer is merged away), no second alert.
        var (survivor5, merged5) = (Guid.NewGuid(), Guid.NewGuid());
        await broker.Deliver(Scored(survivor5, 90, 6) with { MergedCustomerIds = [merged5] }, Scored(merged5, 70, 3), Merged(survivor5, merged5));
        Assert.Equal((1, 0), (await OpenAlerts(pipeline, survivor5), await OpenAlerts(pipeline, merged5)));

        // The CRM heard of one alert per person, never a second one for a merged customer.
        await AssertWebhooks(pipeline, (merged1, 1), (survivor1, 0), (survivor2, 1), (merged2, 1), (survivor3, 0), (merged3, 0), (b, 1), (c, 0),
            (merged4, 1), (survivor4, 0), (survivor5, 1), (merged5, 0));
    }

    private static EffortScored Scored(Guid customer, int score, long version) =>
        new(Guid.NewGuid(), Tenant, customer, Guid.NewGuid(), score, 3, 3, [new EffortDriver("repeat_contacts", score, "test")],
            DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow, version);

    private static CustomersMerged Merged(Guid survivor, params Guid[] merged) =>
        new(Guid.NewGuid(), Tenant, survivor, merged, Guid.NewGuid(), DateTimeOffset.UtcNow);

    private static Task<long> OpenAlerts(TestPipeline pipeline, Guid customer) =>
        pipeline.Count("select count(*) from alerting.alerts where customer_id = @c and status = 'open'", ("c", customer));

    private static async Task<string> State(TestPipeline pipeline, Guid customer) =>
        (await pipeline.Query("select score_version || ':' || score from alerting.customer_alert_state where customer_id = @c",
            r => r.GetString(0), ("c", customer))).Single();

    /// <summary>
    /// alert.raised webhooks are POSTed for the customer the alert was raised on (escalations and merges of an alert are
    /// webhooks of other types); waits until the expected ones are in, then a little longer.
    /// </summary>
    private static async Task AssertWebhooks(TestPipeline pipeline, params (Guid Customer, int Count)[] expected)
    {
        int Received(Guid customer) => pipeline.Crm.Received.DistinctBy(w => w.Id)
            .Select(w => JsonDocument.Parse(w.Body).RootElement)
            .Count(w => w.GetProperty("type").GetString() == "alert.raised" && w.GetProperty("data").GetProperty("customerId").GetGuid() == customer);
        await TestPipeline.Eventually(() => Task.FromResult(expected.All(e => Received(e.Customer) >= e.Count)), TimeSpan.FromSeconds(30),
            () => Task.FromResult(string.Join(", ", expected.Select(e => $"{e.Customer}: {Received(e.Customer)}/{e.Count}"))));
        await Task.Delay(1000);
        Assert.All(expected, e => Assert.Equal(e.Count, Received(e.Customer)));
    }

    /// <summary>Publishes messages as the services' outboxes do, one at a time, each waited for in alerting's inbox.</summary>
    private sealed class Injector(TestPipeline pipeline, IConnection connection, IChannel channel) : IAsyncDisposable
    {
        public static async Task<Injector> Connect(TestPipeline pipeline)
        {
            var connection = await new ConnectionFactory { Uri = new Uri(pipeline.Isolation.RabbitMq) }.CreateConnectionAsync();
            var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
            return new Injector(pipeline, connection, channel);
        }

        public async Task Deliver(params object[] messages)
        {
            foreach (var message in messages)
            {
                var id = Guid.NewGuid();
                var type = message.GetType();
                var body = JsonSerializer.SerializeToUtf8Bytes(new
                {
                    messageId = id,
                    messageType = new[] { $"urn:message:{type.Namespace}:{type.Name}" },
                    message,
                }, JsonSerializerOptions.Web);
                var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true, MessageId = id.ToString() };
                await channel.BasicPublishAsync($"{type.Namespace}:{type.Name}", "", true, properties, body);
                await TestPipeline.Eventually(async () => await pipeline.Count("select count(*) from alerting.inbox where message_id = @id", ("id", id)) == 1,
                    TimeSpan.FromSeconds(30), () => Task.FromResult($"{type.Name} {id} not handled by alerting"));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await channel.CloseAsync();
            await connection.CloseAsync();
            channel.Dispose();
            connection.Dispose();
        }
    }
}
