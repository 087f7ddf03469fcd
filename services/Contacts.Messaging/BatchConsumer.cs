using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using MassTransit;

namespace Contacts.Messaging;

/// <summary>
/// The one shell of a stage that takes contacts many to a message (<see cref="PipelineBatches"/>): every item once per
/// consumer (the inbox keys on the item's own id, whichever batch brought it), all in one transaction with their outbox
/// rows, each under a span of its own contact's trace, in arrival order. A stage that decides sets (<see cref="DecidesSets"/>)
/// loads every state the batch touches in one round trip and writes each table once; when that fails (a version race
/// with another instance, an invalid item), nothing of it stays and the items are handled one by one as below.
/// When items fail, the others still take effect:
/// each failed item goes back to this queue as a batch of its own (through the outbox, with its own id), where the retry
/// policy and, for a poison item, the error queue deal with it alone. A one-item batch that fails throws, as a single
/// message would. The queue is the stage's main queue: from a partition queue, failed items and a batch that cannot be
/// handled at all go there, so a stage has one error queue whatever its partitions.
/// </summary>
public abstract class BatchConsumer<TBatch, TItem>(Database database, string queue) : IConsumer<TBatch>
    where TBatch : class where TItem : class
{
    protected abstract IReadOnlyList<BatchItem<TItem>>? ItemsOf(TBatch batch);

    /// <summary>A batch holding only this item: how a failed item travels alone.</summary>
    protected abstract TBatch Alone(BatchItem<TItem> item);

    /// <summary>One item's work, inside the batch's transaction; it may run a second time, alone, if the batch's transaction fails.</summary>
    protected abstract Task Handle(Session session, TItem item, CancellationToken ct);

    /// <summary>
    /// Whether this stage decides a batch as a set (<see cref="HandleSet"/>): one load of every state its items touch,
    /// the pure decision per item in arrival order, one write per table. Otherwise each item is handled on its own.
    /// </summary>
    protected virtual bool DecidesSets => false;

    /// <summary>
    /// The fresh items of a batch (in arrival order, each with its span, under which what it publishes travels), decided
    /// as a set in one transaction. When it throws nothing of it took effect and the items are handled one by one.
    /// </summary>
    protected virtual Task HandleSet(Session session, IReadOnlyList<(TItem Message, Activity? Span)> items, CancellationToken ct) =>
        throw new NotSupportedException($"{GetType().Name} does not decide sets");

    /// <summary>After the batch's items are handled (committed or split out).</summary>
    protected virtual void Handled()
    {
    }

    public async Task Consume(ConsumeContext<TBatch> context)
    {
        try
        {
            await ConsumeItems(context);
        }
        catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested && !RetryConventions.IsTransient(ex)
            && ReceiveActivity.QueueOf(context.ReceiveContext.InputAddress) != queue)
        {
            // From a partition queue (PipelineTopology.Partitioned), whose single active consumer must keep going: what it
            // cannot handle (an invalid batch) goes on to the stage's main queue, whose retries and error queue deal with it.
            await database.InTransaction(session =>
            {
                session.Send(queue, context.Message, context.MessageId ?? NewId.NextGuid());
                return Task.CompletedTask;
            }, context.CancellationToken);
            ContactsTelemetry.BatchItemsSplitOut.Add(ItemsOf(context.Message)?.Count ?? 0, new KeyValuePair<string, object?>("consumer", queue));
        }
    }

    private async Task ConsumeItems(ConsumeContext<TBatch> context)
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
            if (DecidesSets && await AsSet(items, spans, ct))
            {
                Handled();
                return;
            }
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

    /// <summary>At most this many items are decided in one set when sets are joined (<see cref="AsSet"/>).</summary>
    private const int MaxJoinedItems = 100;

    /// <summary>How many joined sets of one stage are decided at once in a process.</summary>
    private const int JoinedAtOnce = 2;

    /// <summary>The sets waiting to be decided for each stage of this kind, and whose turn it is to decide them.</summary>
    private sealed class SetGroup
    {
        public SemaphoreSlim Turn { get; } = new(JoinedAtOnce, JoinedAtOnce);
        public ConcurrentQueue<PendingSet> Waiting { get; } = new();
    }

    private sealed record PendingSet(IReadOnlyList<BatchItem<TItem>> Items, Activity?[] Spans)
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Per database (one per host: the consumers deciding a joined set share its store) and stage.</summary>
    private static readonly ConcurrentDictionary<(Database, string), SetGroup> Groups = new();

    /// <summary>
    /// The whole batch as a set; false (nothing took effect) when that failed and the items go one by one. Batches that
    /// reach the stage at the same moment (one per partition, when a relay pass's rows were split by customer) are
    /// decided as one set, in arrival order: whoever takes a turn (<see cref="JoinedAtOnce"/> at a time) decides the sets
    /// waiting, up to <see cref="MaxJoinedItems"/> items, in one transaction, so a pass costs one load and one write per table, not one
    /// per partition. When the joined set fails, each batch falls back to its items one by one.
    /// </summary>
    private async Task<bool> AsSet(IReadOnlyList<BatchItem<TItem>> items, Activity?[] spans, CancellationToken ct)
    {
        var group = Groups.GetOrAdd((database, queue), _ => new SetGroup());
        var mine = new PendingSet(items, spans);
        group.Waiting.Enqueue(mine);
        await group.Turn.WaitAsync(ct);
        try
        {
            while (!mine.Done.Task.IsCompleted)
            {
                var sets = new List<PendingSet>();
                var count = 0;
                while (group.Waiting.TryPeek(out var next) && (sets.Count == 0 || count + next.Items.Count <= MaxJoinedItems)
                       && group.Waiting.TryDequeue(out next))
                {
                    sets.Add(next);
                    count += next.Items.Count;
                }
                if (sets.Count == 0)
                {
                    // Another turn took this batch and is deciding it.
                    await mine.Done.Task.WaitAsync(ct);
                    break;
                }
                await DecideJoined(sets, ct);
            }
        }
        finally
        {
            group.Turn.Release();
        }
        if (!await mine.Done.Task)
        {
            ContactsTelemetry.SetDecisionFallbacks.Add(1, new KeyValuePair<string, object?>("consumer", queue));
            return false;
        }
        var now = DateTimeOffset.UtcNow;
        foreach (var item in items)
        {
            ContactsTelemetry.StageLag.Record(Math.Max(0, (now - item.SentAt).TotalSeconds), new KeyValuePair<string, object?>("consumer", queue));
        }
        return true;
    }

    /// <summary>Decides the sets as one and tells each whether that took effect.</summary>
    private async Task DecideJoined(List<PendingSet> sets, CancellationToken ct)
    {
        var items = sets.SelectMany(set => set.Items).ToList();
        var spans = sets.SelectMany(set => set.Spans).ToArray();
        var decided = false;
        try
        {
            await database.HandleSet(queue, [.. items.Select(i => i.MessageId)],
                (session, fresh) => HandleSet(session, [.. fresh.Select(i => (items[i].Message, spans[i]))], ct), ct);
            decided = true;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
        }
        finally
        {
            // Cancelled (this consumer is stopping): the others go one by one, their inboxes absorbing anything that had committed.
            foreach (var set in sets)
            {
                set.Done.TrySetResult(decided);
            }
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
