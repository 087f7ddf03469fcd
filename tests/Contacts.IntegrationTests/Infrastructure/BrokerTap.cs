using System.Collections.Concurrent;
using System.Text.Json;
using Contacts.Messaging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>A message a subscriber saw on the broker: its MassTransit MessageId, sentTime and the message body.</summary>
public sealed record TappedMessage(string Type, Guid MessageId, JsonElement Message, DateTimeOffset? SentTime = null);

/// <summary>
/// Subscribes the way a CRM binding its own queue would: a durable queue bound to the events' exchanges, consumed with
/// RabbitMQ.Client and its automatic recovery, so it keeps counting across a broker restart.
/// </summary>
public sealed class BrokerTap : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;

    private BrokerTap(IConnection connection, IChannel channel)
    {
        _connection = connection;
        _channel = channel;
    }

    public ConcurrentQueue<TappedMessage> Messages { get; } = new();

    public IEnumerable<TappedMessage> Of(string type) => Messages.Where(m => m.Type == type);

    public static async Task<BrokerTap> Start(string amqpUri, params string[] messageTypes)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(amqpUri),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromMilliseconds(500),
        };
        var connection = await factory.CreateConnectionAsync("contacts-test-tap");
        var channel = await connection.CreateChannelAsync();
        var tap = new BrokerTap(connection, channel);
        var queue = $"test-tap-{Guid.NewGuid():N}";
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        // A per-contact type also travels in batches between services: the tap unwraps them into their items.
        foreach (var type in messageTypes.SelectMany(t => typeof(Contacts.Contracts.ContactEventReceived).Assembly.GetType($"Contacts.Contracts.{t}") is not { } itemType || PipelineBatches.For(itemType) is null
                     ? new[] { t } : [t, t + "Batch"]))
        {
            var exchange = $"Contacts.Contracts:{type}";
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueBindAsync(queue, exchange, "");
        }
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            using var envelope = JsonDocument.Parse(delivery.Body);
            var root = envelope.RootElement;
            var type = root.GetProperty("messageType")[0].GetString()!.Split(':')[^1];
            var sentTime = root.TryGetProperty("sentTime", out var sent) && sent.ValueKind == JsonValueKind.String ? sent.GetDateTimeOffset() : (DateTimeOffset?)null;
            var message = root.GetProperty("message");
            if (type.EndsWith("Batch", StringComparison.Ordinal) && message.TryGetProperty("items", out var items))
            {
                foreach (var item in items.EnumerateArray())
                {
                    tap.Messages.Enqueue(new TappedMessage(type[..^"Batch".Length], item.GetProperty("messageId").GetGuid(),
                        item.GetProperty("message").Clone(), item.GetProperty("sentAt").GetDateTimeOffset()));
                }
            }
            else
            {
                tap.Messages.Enqueue(new TappedMessage(type, root.GetProperty("messageId").GetGuid(), message.Clone(), sentTime));
            }
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        return tap;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _channel.CloseAsync();
            await _connection.CloseAsync();
        }
        catch (Exception)
        {
            // the broker may already be gone at the end of a test
        }
        _channel.Dispose();
        _connection.Dispose();
    }
}
