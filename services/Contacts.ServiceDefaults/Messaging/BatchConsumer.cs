using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using MassTransit;

namespace Contacts.ServiceDefaults.Messaging;

/// <summary>
/// The one shell of a stage that takes contacts many to a message (<see cref="PipelineBatches"/>): every item once per
/// consumer (the inbox keys on the item's own id, whichever batch brought it), all in one transaction with their outbox
/// rows, each under a span of its own contact's trace, in arrival order. When items fail, the others still take effect:
/// each failed item goes back to this queue as a batch of its own (through the outbox, with its own id), where the retry
/// policy and, for a poison item, the error queue deal with it alone. A one-item batch that fails throws, as a single
/// message would.
/// </summary>
public abstract class BatchConsumer<TBatch, TItem>(Database database, string queue) : IConsumer<TBatch>
    where TBatch : class where TItem : class
{
    protected abstract IReadOnlyList<BatchItem<TItem>>? ItemsOf(TBatch batch);

    /// <summary>A batch holding only this item: how a failed item travels alone.</summary>
    protected abstract TBatch Alone(BatchItem<TItem> item);

    /// <summary>One item's work, inside the batch's transaction; it may run a second time, alone, if the batch's transaction fails.</summary>
    protected abstract Task Handle(Session session, TItem item, CancellationToken ct);

    /// <summary>After the batch's items are handled (committed or split out).</summary>
    protected virtual void Handled()
    {
    }

    public async Task Consume(ConsumeContext<TBatch> context)
    {
        var items = ItemsOf(context.Message);
        if (items is null || items.Count == 0 || items.Any(i => i is null || i.Message is null || i.MessageId == Guid.Empty))
        {
            throw new InvalidMessageException($"{typeof(TBatch).Name} {context.MessageId} has no items, or an item without an id or message");
        }
        var ct = context.CancellationToken;
        var previous = Activity.Current;
        var spans = items.Select(item => Span(item, previous)).ToArray();
        Activity.Current = previous;
        try
        {
            var failures = await database.HandleEach(queue,
                [.. items.Select((item, i) => (item.MessageId, spans[i], (Func<Session, Task>)(session => Handle(session, item.Message, ct))))], ct);
            var failed = new List<int>();
            for (var i = 0; i < items.Count; i++)
            {
                if (failures[i] is { } failure)
                {
                    failed.Add(i);
                    spans[i]?.SetStatus(ActivityStatusCode.Error, failure.GetType().Name);
                }
                else
                {
                    ContactsTelemetry.StageLag.Record(Math.Max(0, (DateTimeOffset.UtcNow - items[i].SentAt).TotalSeconds),
                        new KeyValuePair<string, object?>("consumer", queue));
                }
            }
            if (failed.Count > 0 && items.Count == 1)
            {
                ExceptionDispatchInfo.Throw(failures[0]!);
            }
            if (failed.Count > 0)
            {
                await database.InTransaction(session =>
                {
                    foreach (var i in failed)
                    {
                        session.Send(queue, Alone(items[i]), items[i].MessageId);
                    }
                    return Task.CompletedTask;
                }, ct);
                ContactsTelemetry.BatchItemsSplitOut.Add(failed.Count, new KeyValuePair<string, object?>("consumer", queue));
            }
            Handled();
        }
        finally
        {
            foreach (var span in spans)
            {
                span?.Dispose();
            }
            Activity.Current = previous;
        }
    }

    /// <summary>
    /// The item's span, a child of the span that wrote it upstream and linked to the batch's delivery. With nothing
    /// listening, a bare activity still carries the item's trace id to what this item publishes.
    /// </summary>
    private Activity? Span(BatchItem<TItem> item, Activity? delivery)
    {
        var name = $"{queue} process";
        if (item.Traceparent is not null && ActivityContext.TryParse(item.Traceparent, null, out var parent))
        {
            var links = delivery is null ? null : new[] { new ActivityLink(delivery.Context) };
            var span = ContactsTelemetry.Source.StartActivity(name, ActivityKind.Consumer, parent, links: links)
                ?? new Activity(name).SetParentId(item.Traceparent).Start();
            span.SetTag("messaging.message.id", item.MessageId.ToString());
            return span;
        }
        return ContactsTelemetry.Source.StartActivity(name, ActivityKind.Consumer, delivery?.Context ?? default)?
            .SetTag("messaging.message.id", item.MessageId.ToString());
    }
}
