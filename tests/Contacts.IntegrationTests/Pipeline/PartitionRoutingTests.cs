using System.Collections.Concurrent;
using System.Text;
using Contacts.Contracts;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Contacts.IntegrationTests;

/// <summary>
/// Routing by customer on a real broker: the topology the services deploy sends a batch to the partition queue its
/// routing key names, one consumer at a time takes a partition and another takes it over when that one goes, and what
/// no partition takes (a writer of the shape before partitions) reaches the stage's main queue instead of being dropped.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class PartitionRoutingTests(ServersFixture servers)
{
    private const string Stage = PipelineTopology.EffortContactAttributed;
    private static readonly string BatchExchange = PipelineTopology.ExchangeName(typeof(ContactAttributedBatch));

    [Fact]
    public async Task A_batch_reaches_the_partition_its_key_names_and_one_without_a_partition_reaches_the_main_queue()
    {
        var isolation = await servers.Isolate("partitions");
        var options = new RabbitMqOptions { ConnectionString = isolation.RabbitMq, Partitions = 4 };
        await using var connection = await options.CreateConnectionFactory().CreateConnectionAsync("partition-test");
        await using var channel = await connection.CreateChannelAsync();

        // Given the topology of the shape before partitions, where the batch exchange fed the stage's main queue,
        await channel.ExchangeDeclareAsync(Stage, ExchangeType.Fanout, durable: true, autoDelete: false);
        await channel.QueueDeclareAsync(Stage, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(Stage, Stage, "");
        await channel.ExchangeDeclareAsync(BatchExchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        await channel.ExchangeBindAsync(Stage, BatchExchange, "");

        // when the services deploy theirs (twice: every service deploys it at start-up),
        await TopologyDeployer.Deploy(options, CancellationToken.None);
        await TopologyDeployer.Deploy(options, CancellationToken.None);

        // then a batch for partition 2 waits in that partition's queue alone, not in the main queue as well;
        await Publish(channel, BatchExchange, "2", "batch for 2");
        await Publish(channel, BatchExchange, "2", "another for 2");
        await Publish(channel, BatchExchange, "0", "batch for 0");
        Assert.Equal(new[] { 1, 0, 2, 0 }, await Counts(channel, Enumerable.Range(0, 4).Select(p => PipelineTopology.PartitionQueue(Stage, p))));
        Assert.Equal(0u, await Count(channel, Stage));

        // one with no routing key (a relay of the shape before partitions) or a partition beyond the count reaches the main
        // queue, as does the single-message type;
        await Publish(channel, BatchExchange, "", "old-shape batch");
        await Publish(channel, BatchExchange, "7", "batch for a partition that is not there");
        await Publish(channel, PipelineTopology.ExchangeName(typeof(ContactAttributed)), "", "single");
        Assert.Equal(3u, await Count(channel, Stage));
        Assert.Equal(new[] { 1, 0, 2, 0 }, await Counts(channel, Enumerable.Range(0, 4).Select(p => PipelineTopology.PartitionQueue(Stage, p))));

        // and a subscriber of the batch exchange (a tap, a CRM's own queue) still sees every batch.
        var tap = $"tap-{Guid.NewGuid():N}";
        await channel.QueueDeclareAsync(tap, durable: false, exclusive: true, autoDelete: true);
        await channel.QueueBindAsync(tap, BatchExchange, "");
        await Publish(channel, BatchExchange, "3", "seen by the tap");
        Assert.Equal(1u, await Count(channel, tap));
        Assert.Equal(1u, await Count(channel, PipelineTopology.PartitionQueue(Stage, 3)));
    }

    [Fact]
    public async Task One_consumer_at_a_time_takes_a_partition_and_another_takes_it_over_when_that_one_goes()
    {
        var isolation = await servers.Isolate("partitions-sac");
        var options = new RabbitMqOptions { ConnectionString = isolation.RabbitMq, Partitions = 2 };
        await TopologyDeployer.Deploy(options, CancellationToken.None);
        var queue = PipelineTopology.PartitionQueue(Stage, 1);
        await using var publisherConnection = await options.CreateConnectionFactory().CreateConnectionAsync("partition-publisher");
        await using var publisher = await publisherConnection.CreateChannelAsync();

        // Given two instances subscribed to partition 1, the first one subscribed first,
        var first = await Subscribe(options, queue, "first");
        var second = await Subscribe(options, queue, "second");

        // when batches arrive, then the first takes them all and the second none;
        for (var i = 0; i < 5; i++)
        {
            await Publish(publisher, BatchExchange, "1", $"batch {i}");
        }
        await TestPipeline.Eventually(() => Task.FromResult(first.Received.Count == 5), TimeSpan.FromSeconds(10), () => Task.FromResult($"first took {first.Received.Count}"));
        await Task.Delay(300);
        Assert.Empty(second.Received);

        // and when the first goes, the second takes the partition over: what arrives next, in order.
        await first.DisposeAsync();
        for (var i = 5; i < 10; i++)
        {
            await Publish(publisher, BatchExchange, "1", $"batch {i}");
        }
        await TestPipeline.Eventually(() => Task.FromResult(second.Received.Count == 5), TimeSpan.FromSeconds(10), () => Task.FromResult($"second took {second.Received.Count}"));
        Assert.Equal(Enumerable.Range(5, 5).Select(i => $"batch {i}"), second.Received);
        await second.DisposeAsync();
    }

    private static async Task Publish(IChannel channel, string exchange, string routingKey, string body) =>
        await channel.BasicPublishAsync(exchange, routingKey, mandatory: false, new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes(body));

    private static async Task<uint> Count(IChannel channel, string queue)
    {
        // Publishes are not confirmed here: wait until the broker has routed them.
        await Task.Delay(200);
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    private static async Task<int[]> Counts(IChannel channel, IEnumerable<string> queues)
    {
        var counts = new List<int>();
        foreach (var queue in queues)
        {
            counts.Add((int)await Count(channel, queue));
        }
        return [.. counts];
    }

    private static async Task<Subscriber> Subscribe(RabbitMqOptions options, string queue, string name)
    {
        var connection = await options.CreateConnectionFactory().CreateConnectionAsync(name);
        var channel = await connection.CreateChannelAsync();
        var subscriber = new Subscriber(connection, channel);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            subscriber.Received.Enqueue(Encoding.UTF8.GetString(delivery.Body.Span));
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        return subscriber;
    }

    private sealed class Subscriber(IConnection connection, IChannel channel) : IAsyncDisposable
    {
        public ConcurrentQueue<string> Received { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await channel.CloseAsync();
            await connection.CloseAsync();
            await channel.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
