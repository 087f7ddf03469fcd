using System.Diagnostics;
using Contacts.Messaging;
using Contacts.ServiceDefaults.Telemetry;
using MassTransit;
using MassTransit.Serialization;

namespace Contacts.Messaging.Outbox;

/// <summary>
/// A message on its way to the broker: one outbox row, or a batch of rows (<see cref="PipelineBatches"/>). Traceparent is
/// the writer's span for a single row; a batch instead links the spans of every row it carries.
/// </summary>
internal sealed record OutgoingMessage(Guid Id, Type Type, object Message, string? Traceparent, DateTimeOffset CreatedAt, string? Destination = null,
    IReadOnlyList<ActivityLink>? Links = null, string? RoutingKey = null);

/// <summary>
/// Publishes outbox rows through the service's MassTransit bus (publisher confirms on, so a publish completes when the
/// broker has the message), with the row id as MessageId and the row's commit time as SentTime.
/// </summary>
internal sealed class OutboxPublisher(IBus bus)
{
    private const string ActivityHeader = "MT-Activity-Id";

    /// <summary>Publishes a batch and waits for the broker's confirms; returns an error per message, null where confirmed.</summary>
    public async Task<string?[]> Publish(IReadOnlyList<OutgoingMessage> messages, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var results = await Task.WhenAll(messages.Select(m => PublishOne(m, deadline.Token)));
        ct.ThrowIfCancellationRequested();
        return results;
    }

    private async Task<string?> PublishOne(OutgoingMessage row, CancellationToken ct)
    {
        try
        {
            var message = row.Message;
            // A span of the writer's trace (not of the relay's pass), so MassTransit's send span and the consumer join it;
            // a batch's span links the trace of every contact it carries.
            using var activity = row.Traceparent is not null && ActivityContext.TryParse(row.Traceparent, null, out var writer)
                ? ContactsTelemetry.Source.StartActivity("outbox publish", ActivityKind.Producer, writer)
                : row.Links is { Count: > 0 } links
                    ? ContactsTelemetry.Source.StartActivity("outbox publish", ActivityKind.Producer, default(ActivityContext), links: links)
                    : null;
            activity?.SetTag("messaging.batch.message_count", row.Links?.Count);
            // WaitAsync as well as the token: however the transport treats cancellation, a stuck publish cannot hold the relay.
            if (row.Destination is { } queue)
            {
                var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{queue}"));
                await endpoint.Send(message, row.Type, context => Stamp(context, row, message), ct).WaitAsync(ct);
            }
            else
            {
                await bus.Publish(message, row.Type, context => Stamp(context, row, message), ct).WaitAsync(ct);
            }
            return null;
        }
        catch (Exception ex)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
    }

    private static void Stamp(SendContext context, OutgoingMessage row, object message)
    {
        // The inboxes de-duplicate on MessageId: a re-send of the row must carry the same one.
        context.MessageId = row.Id;
        if (row.RoutingKey is { } key)
        {
            // The partition of a batch routed by customer (PipelineTopology.Partitioned).
            context.SetRoutingKey(key);
        }
        if (row.Traceparent is not null)
        {
            // Read when no span is current (no listener): MassTransit overwrites it with its send span's id when there is one.
            context.Headers.Set(ActivityHeader, Activity.Current?.Id ?? row.Traceparent);
        }
        // SentTime has no setter: as MassTransit's own outbox does for stored messages, hand the serializer an envelope
        // whose sentTime is the commit, not the relay's clock; consumers measure their stage's lag from it.
        var envelope = new JsonMessageEnvelope(context, message) { SentTime = row.CreatedAt.UtcDateTime };
        context.Serializer = new SystemTextJsonBodyMessageSerializer(envelope, SystemTextJsonMessageSerializer.JsonContentType,
            SystemTextJsonMessageSerializer.Options);
    }
}
