using System.Text;
using System.Text.Json;
using Contacts.ServiceDefaults.Messaging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Contacts.ServiceDefaults.Outbox;

/// <summary>An outbox row on its way to the broker.</summary>
internal sealed record OutgoingMessage(Guid Id, Type Type, string Body, string? Traceparent, DateTimeOffset CreatedAt);

/// <summary>
/// Publishes outbox rows to their message-type exchanges in MassTransit's JSON envelope, with publisher confirms, on a
/// connection of its own. Not through MassTransit's publish pipeline: with RabbitMQ.Client 7.1 a confirmed publish
/// could hang for good on a recovered channel after a broker restart (rabbitmq-dotnet-client #1928/#1930), so this
/// connection does not auto-recover; any failure drops it and the next batch opens a fresh one. On MassTransit 8.5.12 /
/// RabbitMQ.Client 7.2.2 this path keeps the reliability suite at lost=0 duplicated=0; a move to MassTransit's publish
/// (which must keep the row id as MessageId and the commit time as SentTime) has not been measured against it yet.
/// </summary>
internal sealed class OutboxPublisher(IOptions<RabbitMqOptions> options) : IAsyncDisposable
{
    public const string ContentType = "application/vnd.masstransit+json";
    private const string ActivityHeader = "MT-Activity-Id";
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _channel;

    /// <summary>Publishes a batch and waits for the broker's confirms; returns an error per message, null where confirmed.</summary>
    public async Task<string?[]> Publish(IReadOnlyList<OutgoingMessage> messages, TimeSpan timeout, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout);
            var channel = await Channel(deadline.Token);
            var results = await Task.WhenAll(messages.Select(m => PublishOne(channel, m, deadline.Token)));
            if (results.Any(r => r is not null))
            {
                await Drop();
            }
            return results;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            await Drop();
            return [.. messages.Select(_ => $"{ex.GetType().Name}: {ex.Message}")];
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task<string?> PublishOne(IChannel channel, OutgoingMessage message, CancellationToken ct)
    {
        try
        {
            var properties = new BasicProperties
            {
                MessageId = message.Id.ToString(),
                ContentType = ContentType,
                DeliveryMode = DeliveryModes.Persistent,
                Headers = new Dictionary<string, object?> { ["Content-Type"] = ContentType },
            };
            if (message.Traceparent is not null)
            {
                // MassTransit continues the trace from MT-Activity-Id (a W3C id), so the consumer joins the writer's trace.
                properties.Headers[ActivityHeader] = message.Traceparent;
                properties.Headers["traceparent"] = message.Traceparent;
            }
            await channel.BasicPublishAsync(PipelineTopology.ExchangeName(message.Type), "", mandatory: false, properties, Envelope(message), ct);
            return null;
        }
        catch (Exception ex)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
    }

    /// <summary>MassTransit's JSON envelope, so MassTransit consumers read these as if MassTransit had published them.</summary>
    internal static byte[] Envelope(OutgoingMessage message)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("messageId", message.Id);
            json.WriteString("conversationId", message.Id);
            json.WriteStartArray("messageType");
            json.WriteStringValue($"urn:message:{PipelineTopology.ExchangeName(message.Type)}");
            json.WriteEndArray();
            json.WritePropertyName("message");
            json.WriteRawValue(message.Body, skipInputValidation: true);
            // When the sender committed it, not when the relay got to it: consumers measure their stage's lag from here.
            json.WriteString("sentTime", message.CreatedAt);
            json.WriteStartObject("headers");
            if (message.Traceparent is not null)
            {
                json.WriteString(ActivityHeader, message.Traceparent);
                json.WriteString("traceparent", message.Traceparent);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private async Task<IChannel> Channel(CancellationToken ct)
    {
        if (_channel is { IsOpen: true } open)
        {
            return open;
        }
        await Drop();
        var factory = options.Value.CreateConnectionFactory();
        factory.AutomaticRecoveryEnabled = false;
        factory.TopologyRecoveryEnabled = false;
        _connection = await factory.CreateConnectionAsync("contacts-outbox", ct);
        _channel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        return _channel;
    }

    private async Task Drop()
    {
        var (channel, connection) = (_channel, _connection);
        (_channel, _connection) = (null, null);
        try
        {
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
        catch (Exception)
        {
            // a broken connection may throw on the way out; it is gone either way
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Drop();
        _gate.Dispose();
    }
}
