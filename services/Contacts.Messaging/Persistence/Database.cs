using System.Diagnostics;
using System.Text.Json;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Outbox;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using Dapper;
using Marten;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Messaging.Persistence;

/// <summary>
/// Runs work in one PostgreSQL transaction together with the inbox record of the message being handled and the
/// outbox rows of what it publishes, so a state change and its messages commit or vanish together.
/// </summary>
public sealed partial class Database(
    NpgsqlDataSource dataSource, MigrationState migrations, OutboxSignal outboxSignal, IDocumentStore? eventStore, CrashAfterCommit? faults,
    int batchLimit = Database.DefaultBatchLimit, OutboxHandoff? handoff = null)
{
    public NpgsqlDataSource DataSource => dataSource;

    public Task<T> InTransaction<T>(Func<Session, Task<T>> work, CancellationToken ct) => InTransaction(work, ct, messages: 1);

    /// <summary>As above, for work on this many messages at once (what fault injection counts as committed).</summary>
    private async Task<T> InTransaction<T>(Func<Session, Task<T>> work, CancellationToken ct, int messages)
    {
        await migrations.WaitAsync(ct);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var session = new Session(connection, transaction, eventStore);
        var result = await work(session);
        var flushed = await Session.FlushOutboxes([session], LeaseForNext, ct);
        await transaction.CommitAsync(ct);
        AfterCommit(flushed, messages);
        return result;
    }

    /// <summary>The lease for the outbox rows of a transaction committing now (zero: the poll takes them).</summary>
    private TimeSpan LeaseForNext => handoff?.LeaseForNext ?? TimeSpan.Zero;

    /// <summary>
    /// After a commit that wrote outbox rows for this many handled messages: hand the rows to the relay and wake it (and
    /// count the messages for fault injection, which may stop the process here, before anything is published).
    /// </summary>
    private void AfterCommit(OutboxFlush flushed, int publishers)
    {
        if (flushed.Count > 0)
        {
            faults?.Committed(publishers);
            handoff?.Committed(flushed);
            outboxSignal.Notify();
        }
    }

    private static void RecordDuplicate(string consumer)
    {
        ContactsTelemetry.InboxDuplicates.Add(1, new KeyValuePair<string, object?>("consumer", consumer));
        Activity.Current?.SetTag("contacts.inbox.duplicate", true);
    }

    public Task InTransaction(Func<Session, Task> work, CancellationToken ct) =>
        InTransaction(async s => { await work(s); return true; }, ct);

    /// <summary>
    /// Handles a message exactly once per consumer: records its id in the inbox in the same transaction as the work.
    /// Returns false (and does nothing) when this consumer has already handled that message id.
    /// </summary>
    public Task<bool> HandleOnce(string consumer, Guid messageId, Func<Session, Task> work, CancellationToken ct) =>
        InTransaction(async session =>
        {
            await using (var cmd = session.Command("insert into inbox (consumer, message_id) values (@c, @m) on conflict do nothing"))
            {
                cmd.Parameters.AddWithValue("c", consumer);
                cmd.Parameters.AddWithValue("m", messageId);
                if (await cmd.ExecuteNonQueryAsync(ct) == 0)
                {
                    RecordDuplicate(consumer);
                    return false;
                }
            }
            session.Events.CausationId = messageId.ToString();
            await work(session);
            return true;
        }, ct);
}

/// <summary>One open transaction: run commands, append events, and queue messages for the outbox.</summary>
public sealed class Session
{
    private readonly List<(Guid Id, object Message, string? Traceparent, string? Queue)> _outgoing = [];
    private readonly Dictionary<Type, ICommitRows> _atCommit = [];
    private readonly Dictionary<Type, object> _shared;

    internal Session(NpgsqlConnection connection, NpgsqlTransaction transaction, IDocumentStore? eventStore, Dictionary<Type, object>? shared = null)
    {
        Connection = connection;
        Transaction = transaction;
        Events = new EventStoreSession(eventStore, this);
        _shared = shared ?? [];
    }

    /// <summary>
    /// An object of type T shared by every session of this transaction (one transaction can carry the work of several
    /// messages, each in a session of its own), made on first use: what a transaction has read once and may reuse.
    /// </summary>
    public T Shared<T>() where T : class, new() => OfType<T, object>(_shared);

    public NpgsqlConnection Connection { get; }
    public NpgsqlTransaction Transaction { get; }
    public EventStoreSession Events { get; }

    /// <summary>A command in this transaction, for batched or typed-array work on hot paths.</summary>
    public NpgsqlCommand Command(string sql) => new(sql, Connection, Transaction);

    /// <summary>A plain statement in this transaction through Dapper (the properties of args are its parameters); rows affected.</summary>
    public Task<int> Execute(string sql, object? args, CancellationToken ct) =>
        Connection.ExecuteAsync(new CommandDefinition(sql, args, Transaction, cancellationToken: ct));

    /// <summary>A plain read in this transaction through Dapper, as T (a record naming the columns in order, a tuple, or a value).</summary>
    public async Task<List<T>> Query<T>(string sql, object? args, CancellationToken ct) =>
        (await Connection.QueryAsync<T>(new CommandDefinition(sql, args, Transaction, cancellationToken: ct))).AsList();

    /// <summary>The one row (or none: default) of a plain read in this transaction.</summary>
    public Task<T?> QuerySingle<T>(string sql, object? args, CancellationToken ct) =>
        Connection.QuerySingleOrDefaultAsync<T?>(new CommandDefinition(sql, args, Transaction, cancellationToken: ct));

    /// <summary>The first column of the first row (or default) of a plain read in this transaction.</summary>
    public Task<T?> Scalar<T>(string sql, object? args, CancellationToken ct) =>
        Connection.ExecuteScalarAsync<T?>(new CommandDefinition(sql, args, Transaction, cancellationToken: ct));

    /// <summary>Publishes after commit, through the outbox; messageId becomes the broker MessageId, so re-sends dedupe.</summary>
    public void Publish<T>(T message, Guid messageId) where T : class => Publish(message, messageId, Activity.Current);

    /// <summary>As above, in the trace of the given span (one item of a batch decided as a set) rather than the current one.</summary>
    public void Publish<T>(T message, Guid messageId, Activity? span) where T : class => _outgoing.Add((messageId, message, span?.Id, null));

    /// <summary>
    /// Sends to one queue after commit, through the outbox (a batch consumer's failed items, each on its way back to its
    /// own queue alone). A row of that id already queued is left as it is, so splitting the same batch twice sends once.
    /// </summary>
    public void Send<T>(string queue, T message, Guid messageId) where T : class => _outgoing.Add((messageId, message, Activity.Current?.Id, queue));

    internal bool HasOutgoing => _outgoing.Count > 0;

    /// <summary>
    /// The rows this session writes at commit (<see cref="CommitRows{TRow}"/>) of one kind, made on first use: every session
    /// of the transaction fills its own, and the commit writes them all in one statement per kind.
    /// </summary>
    public T AtCommit<T>() where T : class, ICommitRows, new() => OfType<T, ICommitRows>(_atCommit);

    /// <summary>The one T of a by-type store, made on first use.</summary>
    private static T OfType<T, TBase>(Dictionary<Type, TBase> store) where T : class, TBase, new()
    {
        if (!store.TryGetValue(typeof(T), out var value))
        {
            store[typeof(T)] = value = new T();
        }
        return (T)value!;
    }

    /// <summary>
    /// The rows of several sessions on one transaction written at commit, in one round trip: each kind of commit-time rows
    /// in one statement, then the outbox rows in one statement, leased to this process's relay for the given time (zero:
    /// due at once, for any relay's poll). Returns the outbox rows.
    /// </summary>
    internal static async Task<OutboxFlush> FlushOutboxes(IReadOnlyList<Session> sessions, TimeSpan lease, CancellationToken ct)
    {
        // The event store's appends first, in their own round trip (Marten's session): a stream that moved fails the
        // transaction before anything else is written.
        await EventStoreSession.SaveAtCommit(sessions, ct);
        var outgoing = sessions.SelectMany(s => s._outgoing).ToList();
        var atCommit = sessions.SelectMany(s => s._atCommit.Values).Where(r => r.Count > 0).GroupBy(r => r.GetType()).ToList();
        if (outgoing.Count == 0 && atCommit.Count == 0)
        {
            return OutboxFlush.None;
        }
        // The rows' time, sent as their sentTime whichever way they go (PostgreSQL keeps microseconds).
        var now = DateTimeOffset.UtcNow;
        var writtenAt = new DateTimeOffset(now.Ticks - now.Ticks % 10, TimeSpan.Zero);
        await using var batch = new NpgsqlBatch(sessions[0].Connection, sessions[0].Transaction);
        var written = new List<(IReadOnlyList<ICommitRows> Rows, NpgsqlBatchCommand[] Commands)>(atCommit.Count);
        void Write(IEnumerable<IGrouping<Type, ICommitRows>> kinds)
        {
            foreach (var kind in kinds)
            {
                var commands = kind.First().Write([.. kind]).ToArray();
                foreach (var command in commands)
                {
                    batch.BatchCommands.Add(command);
                }
                written.Add(([.. kind], commands));
            }
        }
        // Kinds that take a lock held until commit (the event log's positions) go last, so they hold it for the least time.
        Write(atCommit.Where(k => !k.First().LocksUntilCommit));
        if (outgoing.Count > 0)
        {
            // One statement for all of them, whatever their number.
            var cmd = new NpgsqlBatchCommand("""
                insert into outbox (id, message_type, body, traceparent, destination, created_at, next_attempt_at)
                select id, type, body::jsonb, trace, queue, @at, now() + @lease
                from unnest(@ids, @types, @bodies, @traces, @queues) as t(id, type, body, trace, queue)
                on conflict (id) do nothing
                """);
            cmd.Parameters.AddWithValue("lease", lease);
            cmd.Parameters.AddWithValue("at", writtenAt);
            cmd.Parameters.AddWithValue("ids", outgoing.Select(o => o.Id).ToArray());
            cmd.Parameters.AddWithValue("types", outgoing.Select(o => o.Message.GetType().FullName!).ToArray());
            cmd.Parameters.AddWithValue("bodies",
                outgoing.Select(o => JsonSerializer.Serialize(o.Message, o.Message.GetType(), EventStoreSession.Json)).ToArray());
            cmd.Parameters.AddWithValue("traces", NpgsqlDbType.Array | NpgsqlDbType.Text, outgoing.Select(o => o.Traceparent).ToArray());
            cmd.Parameters.AddWithValue("queues", NpgsqlDbType.Array | NpgsqlDbType.Text, outgoing.Select(o => o.Queue).ToArray());
            batch.BatchCommands.Add(cmd);
        }
        Write(atCommit.Where(k => k.First().LocksUntilCommit));
        await batch.ExecuteNonQueryAsync(ct);
        foreach (var (rows, commands) in written)
        {
            await rows[0].Verify(rows, commands, sessions[0], ct);
        }
        return new OutboxFlush([.. outgoing.Select(o => new HandedRow(o.Id, o.Message, o.Traceparent, o.Queue))], writtenAt, lease > TimeSpan.Zero);
    }
}

/// <summary>Rows a session writes at commit (see <see cref="CommitRows{TRow}"/>).</summary>
public interface ICommitRows
{
    int Count { get; }

    /// <summary>
    /// The statements writing the rows of all of these, one set per session of the transaction, in the sessions' order
    /// (usually one statement).
    /// </summary>
    IEnumerable<NpgsqlBatchCommand> Write(IReadOnlyList<ICommitRows> all);

    /// <summary>Whether the statements take a lock held until commit: they are then written after everything else.</summary>
    bool LocksUntilCommit => false;

    /// <summary>After the statements ran, before commit: throws when what they did means the transaction must not commit.</summary>
    Task Verify(IReadOnlyList<ICommitRows> all, IReadOnlyList<NpgsqlBatchCommand> commands, Session session, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>
/// Rows a session writes at commit rather than at once, for tables nothing reads back in the same transaction (a log, a
/// queue of deliveries): every session of the transaction adds to its own, and the commit writes them all in one
/// statement per kind, in the round trip of the outbox rows, so they cost no round trip of their own. A transaction
/// that fails writes none of them.
/// </summary>
public abstract class CommitRows<TRow> : ICommitRows
{
    private readonly List<TRow> _rows = [];

    public int Count => _rows.Count;

    public void Add(TRow row) => _rows.Add(row);

    /// <summary>Whether the statements take a lock held until commit: they are then written after everything else.</summary>
    public virtual bool LocksUntilCommit => false;

    IEnumerable<NpgsqlBatchCommand> ICommitRows.Write(IReadOnlyList<ICommitRows> all) => WriteAll(RowsOf(all));

    Task ICommitRows.Verify(IReadOnlyList<ICommitRows> all, IReadOnlyList<NpgsqlBatchCommand> commands, Session session, CancellationToken ct) =>
        Verify(RowsOf(all), commands, session, ct);

    private static List<TRow> RowsOf(IReadOnlyList<ICommitRows> all) => [.. all.Cast<CommitRows<TRow>>().SelectMany(r => r._rows)];

    /// <summary>The statement that writes these rows (in the order they were added), e.g. one insert from unnest.</summary>
    protected abstract NpgsqlBatchCommand Write(IReadOnlyList<TRow> rows);

    /// <summary>The statements that write these rows, when one is not enough (a lock taken first).</summary>
    protected virtual IEnumerable<NpgsqlBatchCommand> WriteAll(IReadOnlyList<TRow> rows) => [Write(rows)];

    /// <summary>After the statements ran, before commit: throw when the transaction must not commit.</summary>
    protected virtual Task Verify(IReadOnlyList<TRow> rows, IReadOnlyList<NpgsqlBatchCommand> commands, Session session, CancellationToken ct) =>
        Task.CompletedTask;
}
