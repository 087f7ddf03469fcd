using Contacts.Persistence;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Resilience;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Contacts.Messaging;

/// <summary>Completes once the pipeline's exchanges, queues and bindings exist on the broker.</summary>
public sealed class TopologyState : StartupGate;

/// <summary>
/// Declares the whole pipeline topology, exactly as MassTransit would (message-type exchange -> endpoint exchange ->
/// queue, all durable fanout), so that MassTransit's own declarations later match and nothing published early is lost.
/// Kept over MassTransit's topology: a bus declares only the queues its own service consumes from, so events published
/// before their consumer ever started were dropped; the reliability scenario consumer-started-last holds this at lost=0.
/// </summary>
internal sealed partial class TopologyDeployer(
    IOptions<RabbitMqOptions> options, TopologyState state, ILogger<TopologyDeployer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var untilDeclared = Retries.UntilDone(_ => true, (delay, ex) => LogRetrying(logger, delay.TotalMilliseconds, ex.Message));
        await untilDeclared.ExecuteAsync(async ct => await Deploy(options.Value, ct), stoppingToken);
        state.Complete();
    }

    public static async Task Deploy(RabbitMqOptions options, CancellationToken ct)
    {
        var factory = options.CreateConnectionFactory();
        await using var connection = await factory.CreateConnectionAsync("contacts-topology", ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        var queueArguments = options.QueueArguments();

        foreach (var (queue, messages) in PipelineTopology.Endpoints)
        {
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: queueArguments, cancellationToken: ct);
            await channel.QueueBindAsync(queue, queue, routingKey: "", cancellationToken: ct);
            foreach (var message in messages)
            {
                var exchange = PipelineTopology.ExchangeName(message);
                await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
                await channel.ExchangeBindAsync(queue, exchange, routingKey: "", cancellationToken: ct);
            }
        }
        foreach (var (stage, batch) in PipelineTopology.Partitioned)
        {
            await DeployPartitions(channel, options, stage, PipelineTopology.ExchangeName(batch), ct);
        }
        foreach (var message in PipelineTopology.PublishedOnly)
        {
            await channel.ExchangeDeclareAsync(PipelineTopology.ExchangeName(message), ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        }
    }

    /// <summary>
    /// A partitioned stage (PipelineTopology.Partitioned): batch exchange -> direct "&lt;stage&gt;-partitions" -> by routing
    /// key to each partition's endpoint exchange and queue (single active consumer); what no partition takes goes to the
    /// stage's own exchange (the alternate exchange). The batch exchange's binding to the stage's own exchange, which the
    /// shape before partitions had, is removed so that a batch is not handled twice.
    /// </summary>
    private static async Task DeployPartitions(IChannel channel, RabbitMqOptions options, string stage, string batchExchange, CancellationToken ct)
    {
        var partitions = PipelineTopology.PartitionExchange(stage);
        await channel.ExchangeDeclareAsync(batchExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.ExchangeDeclareAsync(partitions, ExchangeType.Direct, durable: true, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["alternate-exchange"] = stage }, cancellationToken: ct);
        await channel.ExchangeBindAsync(partitions, batchExchange, routingKey: "", cancellationToken: ct);
        await channel.ExchangeUnbindAsync(stage, batchExchange, routingKey: "", cancellationToken: ct);
        var arguments = options.PartitionQueueArguments();
        for (var p = 0; p < options.Partitions; p++)
        {
            var queue = PipelineTopology.PartitionQueue(stage, p);
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: arguments, cancellationToken: ct);
            await channel.QueueBindAsync(queue, queue, routingKey: "", cancellationToken: ct);
            await channel.ExchangeBindAsync(queue, partitions, routingKey: p.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken: ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker topology not declared yet, retrying in {DelayMs} ms: {Reason}")]
    private static partial void LogRetrying(ILogger logger, double delayMs, string reason);
}
