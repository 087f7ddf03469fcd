using System.Collections.Concurrent;
using System.Diagnostics;
using Contacts.Messaging.Outbox;
using Contacts.ServiceDefaults.Telemetry;
using Npgsql;

namespace Contacts.Messaging.Persistence;

/// <summary>
/// Messages handled together: the messages of one consumer that are waiting at the same moment share one transaction
/// (one inbox statement for all of them, each one's work in arrival order, one outbox statement, one commit) instead of
/// a transaction each. Under a burst that is most of a stage's round trips and commits; a message that arrives alone
/// is handled alone, at once, so latency at low rates does not change. The same goes for plain work of one name (a
/// burst of requests that each store something): <see cref="InTransactionTogether{T}"/>.
/// Nothing changes for a message's outcome: when a shared transaction fails for any reason (one message invalid, a
/// version race, a deadlock with another instance), it is rolled back and each of its messages is handled again in a
/// transaction of its own, the old way, so each one's own exception reaches its own consumer, its retries and its
/// error queue, and the others commit.
/// </summary>
public sealed partial class Database
{
    public const int DefaultBatchLimit = 32;

    private readonly ConcurrentDictionary<string, Batcher> _batchers = new();
    private readonly int _batchLimit = batchLimit;

    /// <summary>
    /// Like <see cref="HandleOnce"/> (true when handled, false for a message this consumer already handled), but shares
    /// a transaction with the same consumer's other messages waiting now. The work must touch the database only through
    /// its session, and do nothing outside it that a second run would repeat wrongly: it runs again after a shared
    /// transaction fails.
    /// </summary>
    public async Task<bool> HandleOnceTogether(string consumer, Guid messageId, Func<Session, Task> work, CancellationToken ct)
    {
        if (_batchLimit <= 1)
        {
            return await HandleOnce(consumer, messageId, work, ct);
        }
        return (bool)(await Together(consumer, new Waiting(messageId, async session => { await work(session); return true; }, Activity.Current, ct)))!;
    }

    /// <summary>
    /// Like <see cref="InTransaction{T}"/>, but shares a transaction with the other work of the same name waiting now (a
    /// burst of requests that each store one thing). The same rules as for <see cref="HandleOnceTogether"/>: the work
    /// touches the database only through its session, and may run twice (the second time alone) if a shared transaction fails.
    /// </summary>
    public async Task<T> InTransactionTogether<T>(string name, Func<Session, Task<T>> work, CancellationToken ct)
    {
        if (_batchLimit <= 1)
        {
            return await InTransaction(work, ct);
        }
        return (T)(await Together("transaction " + name, new Waiting(null, async session => await work(session), Activity.Current, ct)))!;
    }

    /// <summary>
    /// The items of one batch message, each with its own message id and span: all of them in one transaction (one inbox
    /// statement, each item's work in order, one outbox statement, one commit); when that transaction fails, each item
    /// alone, as <see cref="HandleOnceTogether"/> does. Returns each item's failure, null where it took effect or had
    /// already (a duplicate). The work may run twice, the second time alone: it touches the database only through its session.
    /// </summary>
    public async Task<Exception?[]> HandleEach(string consumer, IReadOnlyList<(Guid MessageId, Activity? Activity, Func<Session, Task> Work)> items,
        CancellationToken ct)
    {
        var waiting = items.Select(i => new Waiting(i.MessageId, async session => { await i.Work(session); return true; }, i.Activity, ct)).ToList();
        await HandleTogether(consumer, waiting);
        return [.. waiting.Select(w => w.Done.Task.Exception?.InnerException)];
    }

    /// <summary>
    /// The items of one batch message decided as a set: one transaction holds one inbox statement (which of them this
    /// consumer has not handled yet), the work on those items at once (its loads and writes one statement per table),
    /// one outbox statement and one commit. Returns the indexes of the fresh items; the others were duplicates. When
    /// anything fails the transaction is rolled back and the exception thrown: nothing took effect, and the caller
    /// handles the items one by one instead (<see cref="HandleEach"/>).
    /// </summary>
    public Task<IReadOnlyList<int>> HandleSet(string consumer, IReadOnlyList<Guid> messageIds, Func<Session, IReadOnlyList<int>, Task> work,
        CancellationToken ct) =>
        InTransaction(async session =>
        {
            var fresh = new HashSet<Guid>();
            await using (var inbox = session.Command("""
                insert into inbox (consumer, message_id) select @c, m from unnest(@m) as m on conflict do nothing returning message_id
                """))
            {
                inbox.Parameters.AddWithValue("c", consumer);
                inbox.Parameters.AddWithValue("m", messageIds.Distinct().ToArray());
                await using var reader = await inbox.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    fresh.Add(reader.GetGuid(0));
                }
            }
            var indexes = new List<int>(messageIds.Count);
            for (var i = 0; i < messageIds.Count; i++)
            {
                // The first of a message id twice in the batch takes it; a second copy is a duplicate like any other.
                if (fresh.Remove(messageIds[i]))
                {
                    indexes.Add(i);
                }
                else
                {
                    RecordDuplicate(consumer);
                }
            }
            if (indexes.Count > 0)
            {
                await work(session, indexes);
            }
            return (IReadOnlyList<int>)indexes;
        }, ct, messages: messageIds.Count);

    private Task<object?> Together(string name, Waiting item)
    {
        _batchers.GetOrAdd(name, n => new Batcher(this, n)).Add(item);
        return item.Done.Task;
    }

    /// <summary>Work waiting for a shared transaction: with a message id it is a message for the inbox, without one plain work.</summary>
    private sealed record Waiting(Guid? MessageId, Func<Session, Task<object?>> Work, Activity? Activity, CancellationToken Ct)
    {
        public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One consumer's queue, drained by one task at a time that takes whatever is waiting, up to the limit.</summary>
    private sealed class Batcher(Database database, string consumer)
    {
        private readonly ConcurrentQueue<Waiting> _queue = new();
        private int _draining;

        public void Add(Waiting item)
        {
            _queue.Enqueue(item);
            StartDraining();
        }

        private void StartDraining()
        {
            if (Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
            // Not on the adding consumer's execution context: each message's work runs under its own span.
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(Drain);
            }
        }

        private async Task Drain()
        {
            while (true)
            {
                var items = new List<Waiting>();
                while (items.Count < database._batchLimit && _queue.TryDequeue(out var item))
                {
                    items.Add(item);
                }
                if (items.Count == 0)
                {
                    Volatile.Write(ref _draining, 0);
                    // An item added after the last look but before the flag was cleared found a drainer running: take it.
                    if (!_queue.IsEmpty)
                    {
                        StartDraining();
                    }
                    return;
                }
                await database.HandleTogether(consumer, items);
            }
        }
    }

    private async Task HandleTogether(string consumer, List<Waiting> items)
    {
        if (items.Count == 1)
        {
            await HandleAlone(consumer, items[0]);
            return;
        }
        object?[] results;
        int publishers;
        OutboxFlush flushed;
        try
        {
            (results, publishers, flushed) = await InOneTransaction(consumer, items);
        }
        catch (Exception)
        {
            // Whatever failed, each message gets its own transaction and its own outcome.
            ContactsTelemetry.SharedTransactionFallbacks.Add(1, new KeyValuePair<string, object?>("consumer", consumer));
            foreach (var item in items)
            {
                await HandleAlone(consumer, item);
            }
            return;
        }
        AfterCommit(flushed, publishers);
        ContactsTelemetry.SharedTransactionSize.Record(items.Count, new KeyValuePair<string, object?>("consumer", consumer));
        for (var i = 0; i < items.Count; i++)
        {
            items[i].Done.TrySetResult(results[i]);
        }
    }

    private async Task HandleAlone(string consumer, Waiting item)
    {
        var previous = Activity.Current;
        Activity.Current = item.Activity;
        try
        {
            item.Done.TrySetResult(item.MessageId is { } messageId
                ? await HandleOnce(consumer, messageId, item.Work, item.Ct)
                : await InTransaction(item.Work, item.Ct));
        }
        catch (Exception ex)
        {
            item.Done.TrySetException(ex);
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    /// <summary>
    /// Returns each item's result (for a message: whether it was handled, false for a duplicate), and how many of them
    /// published anything, with what they published.
    /// </summary>
    private async Task<(object?[] Results, int Publishers, OutboxFlush Flushed)> InOneTransaction(string consumer, List<Waiting> items)
    {
        // The consumers' own tokens stop only the waiting (their messages are redelivered); the shared work runs to its end.
        var ct = CancellationToken.None;
        await migrations.WaitAsync(ct);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var fresh = new HashSet<Guid>();
        var messageIds = items.Where(i => i.MessageId is not null).Select(i => i.MessageId!.Value).Distinct().ToArray();
        if (messageIds.Length > 0)
        {
            await using var inbox = new NpgsqlCommand("""
            insert into inbox (consumer, message_id) select @c, m from unnest(@m) as m on conflict do nothing returning message_id
            """, connection, transaction);
            inbox.Parameters.AddWithValue("c", consumer);
            inbox.Parameters.AddWithValue("m", messageIds);
            await using var reader = await inbox.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                fresh.Add(reader.GetGuid(0));
            }
        }
        var results = new object?[items.Count];
        var sessions = new List<Session>(items.Count);
        var shared = new Dictionary<Type, object>();
        var previous = Activity.Current;
        try
        {
            for (var i = 0; i < items.Count; i++)
            {
                Activity.Current = items[i].Activity;
                var session = new Session(connection, transaction, eventStore, shared);
                if (items[i].MessageId is { } messageId)
                {
                    // The first of a message id twice in the batch takes it; a second copy is a duplicate like any other.
                    if (!fresh.Remove(messageId))
                    {
                        RecordDuplicate(consumer);
                        results[i] = false;
                        continue;
                    }
                    session.Events.CausationId = messageId.ToString();
                }
                results[i] = await items[i].Work(session);
                sessions.Add(session);
            }
        }
        finally
        {
            Activity.Current = previous;
        }
        var flushed = sessions.Count > 0 ? await Session.FlushOutboxes(sessions, LeaseForNext, ct) : OutboxFlush.None;
        await transaction.CommitAsync(ct);
        return (results, sessions.Count(s => s.HasOutgoing), flushed);
    }
}
