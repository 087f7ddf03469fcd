using System.Diagnostics;
using RabbitMQ.Client;

namespace Contacts.Bench;

/// <summary>The broker alone, for scale: 1 KiB persistent messages to a durable queue, publisher confirms, 64 in flight.</summary>
public static class RawBroker
{
    public static async Task<double> MessagesPerSecond(string amqpUri, int messages, CancellationToken ct)
    {
        var factory = new ConnectionFactory { Uri = new Uri(amqpUri) };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        const string queue = "bench-raw";
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
        var payload = new byte[1024];
        Random.Shared.NextBytes(payload);
        var properties = new BasicProperties { Persistent = true };
        const int inFlight = 64;
        var clock = Stopwatch.StartNew();
        for (var sent = 0; sent < messages; sent += inFlight)
        {
            await Task.WhenAll(Enumerable.Range(0, Math.Min(inFlight, messages - sent))
                .Select(_ => channel.BasicPublishAsync("", queue, false, properties, payload, ct).AsTask()));
        }
        var rate = messages / clock.Elapsed.TotalSeconds;
        await channel.QueueDeleteAsync(queue, cancellationToken: ct);
        return rate;
    }
}
