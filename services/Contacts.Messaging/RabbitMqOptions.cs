using RabbitMQ.Client;

namespace Contacts.Messaging;

/// <summary>Broker settings, bound from the "RabbitMq" section; the address comes from ConnectionStrings:rabbitmq.</summary>
public sealed class RabbitMqOptions
{
    /// <summary>amqp://user:password@host:port/vhost</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Quorum queues, as production runs them on a 3-node cluster; classic durable queues otherwise.</summary>
    public bool QuorumQueues { get; set; }

    public ushort PrefetchCount { get; set; } = 64;

    /// <summary>Messages each endpoint handles at once when set (RabbitMq:ConcurrentMessageLimit, or per queue under
    /// RabbitMq:Endpoints:{queue}); otherwise the consumer definition's limit (32). It can lower that limit, not raise it.</summary>
    public int? ConcurrentMessageLimit { get; set; }

    /// <summary>
    /// How many partitions the stages routed by customer have (PipelineTopology.Partitioned): the most instances that
    /// can share a stage's work. Every service must be given the same count; see docs/operations.md before changing it.
    /// </summary>
    public int Partitions { get; set; } = 8;

    /// <summary>
    /// Batches a partition's endpoint handles at once. Above 1 a customer's batches may be handled side by side, which the
    /// deciders allow (they are order-independent and every write checks the version it read); the single active consumer
    /// still keeps a partition on one instance.
    /// </summary>
    public int PartitionConcurrency { get; set; } = 2;

    public int HeartbeatSeconds { get; set; } = 5;

    public Uri Address => new(ConnectionString);

    public string VirtualHost => Address.AbsolutePath.Length <= 1 ? "/" : Uri.UnescapeDataString(Address.AbsolutePath[1..]);

    public string Username => Uri.UnescapeDataString(Address.UserInfo.Split(':')[0] is { Length: > 0 } user ? user : "guest");

    public string Password => Address.UserInfo.Split(':') is [_, var password] ? Uri.UnescapeDataString(password) : "guest";

    public ushort Port => (ushort)(Address.IsDefaultPort || Address.Port <= 0 ? 5672 : Address.Port);

    public Dictionary<string, object?>? QueueArguments() =>
        QuorumQueues ? new Dictionary<string, object?> { ["x-queue-type"] = "quorum" } : null;

    /// <summary>A partition queue's arguments: one active consumer at a time (as MassTransit declares it with SingleActiveConsumer).</summary>
    public Dictionary<string, object?> PartitionQueueArguments() =>
        new(QueueArguments() ?? []) { ["x-single-active-consumer"] = true };

    public ConnectionFactory CreateConnectionFactory() => new()
    {
        HostName = Address.Host,
        Port = Port,
        VirtualHost = VirtualHost,
        UserName = Username,
        Password = Password,
    };
}
