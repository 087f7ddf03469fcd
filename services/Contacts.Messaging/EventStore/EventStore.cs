using System.Collections.Concurrent;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Messaging.EventStore;

/// <summary>An append was made against a stream version that is no longer current; reload and decide again.</summary>
public sealed class ConcurrencyException(Guid streamId, long expected, long? actual)
    : Exception($"Stream {streamId} was expected at version {expected} but is at {(actual?.ToString() ?? "nothing (no such stream)")}")
{
    public Guid StreamId { get; } = streamId;
    public long ExpectedVersion { get; } = expected;
}

/// <summary>An event as stored: its payload plus where it sits in its stream and in the global sequence.</summary>
public sealed record StoredEvent(long Sequence, Guid Id, Guid StreamId, long Version, string Type, object Data, DateTimeOffset Timestamp);

/// <summary>Maps stored type names to CLR types. Names are the CLR type's short name, like Marten's aliases.</summary>
public sealed class EventTypes
{
    private readonly ConcurrentDictionary<string, Type> _byName = new();

    public EventTypes Register(params Type[] types)
    {
        foreach (var type in types)
        {
            _byName[NameOf(type)] = type;
        }
        return this;
    }

    public static string NameOf(Type type) => type.Name;

    public Type Resolve(string name) =>
        _byName.TryGetValue(name, out var type)
            ? type
            : throw new InvalidOperationException($"Event type '{name}' is not registered with this service's EventTypes");
}

/// <summary>
/// A small event store shaped like Marten's (StartStream, Append with expected version, FetchStream),
/// working inside the caller's transaction. Marten is not served to us; moving to it later should be a swap.
/// </summary>
public sealed class EventStoreSession(NpgsqlConnection connection, NpgsqlTransaction transaction, EventTypes types, Persistence.Session? owner = null)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Creates a stream at version events.Length; fails with ConcurrencyException when it already exists.</summary>
    public Task StartStream<TAggregate>(Guid streamId, string tenantId, IReadOnlyList<object> events, CancellationToken ct = default) =>
        RunAlone(StartStreamIn<TAggregate>(streamId, tenantId, events), ct);

    /// <summary>Appends after expectedVersion; fails with ConcurrencyException if another writer got there first.</summary>
    public Task Append(Guid streamId, long expectedVersion, IReadOnlyList<object> events, CancellationToken ct = default) =>
        RunAlone(AppendIn(streamId, expectedVersion, events), ct);

    /// <summary>
    /// StartStream's one statement (the stream row and its events together); run it, then <see cref="PendingAppend.Check"/>.
    /// Nothing is written when the stream already exists.
    /// </summary>
    private PendingAppend StartStreamIn<TAggregate>(Guid streamId, string tenantId, IReadOnlyList<object> events)
    {
        var cmd = EventsCommand("""
            with s as (
                insert into streams (id, type, version, tenant_id) values (@stream, @type, @new, @tenant)
                on conflict (id) do nothing
                returning tenant_id)
            """, streamId, 0, events);
        cmd.Parameters.AddWithValue("type", typeof(TAggregate).Name);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        return new PendingAppend(this, cmd, streamId, 0, events.Count);
    }

    /// <summary>
    /// Append's one statement: the version moves and the events are written only when the stream is still at
    /// expectedVersion. Run it, then <see cref="PendingAppend.Check"/>.
    /// </summary>
    private PendingAppend AppendIn(Guid streamId, long expectedVersion, IReadOnlyList<object> events)
    {
        var cmd = EventsCommand("""
            with s as (
                update streams set version = @new, timestamp = now()
                where id = @stream and version = @expected
                returning tenant_id)
            """, streamId, expectedVersion, events);
        cmd.Parameters.AddWithValue("expected", expectedVersion);
        return new PendingAppend(this, cmd, streamId, expectedVersion, events.Count);
    }

    /// <summary>
    /// StartStream written at commit, with every other append of the transaction in one statement (<see cref="StreamAppends"/>).
    /// Throws ConcurrencyException at once when this transaction already wrote to the stream, and at commit when the
    /// stream exists by then.
    /// </summary>
    public void StartStreamAtCommit<TAggregate>(Guid streamId, string tenantId, IReadOnlyList<object> events) =>
        AtCommit(streamId, null, events, tenantId, typeof(TAggregate).Name);

    /// <summary>
    /// Append written at commit, with every other append of the transaction in one statement (<see cref="StreamAppends"/>).
    /// readVersion is the stream's version as this transaction read it from the database (null when it found no stream:
    /// one started earlier in this transaction). An earlier append of this transaction to the same stream is built on
    /// (the events follow its events) when it was made on the same read; otherwise, or when the stream moved by commit,
    /// ConcurrencyException.
    /// </summary>
    public void AppendAtCommit(Guid streamId, long? readVersion, IReadOnlyList<object> events) =>
        AtCommit(streamId, readVersion, events, null, null);

    private void AtCommit(Guid streamId, long? readVersion, IReadOnlyList<object> events, string? startTenant, string? startType)
    {
        if (owner is null)
        {
            throw new InvalidOperationException("Appends at commit need the session of a transaction");
        }
        if (events.Count == 0)
        {
            return;
        }
        var chains = owner.Shared<StreamAppends.Chains>();
        long from;
        if (chains.TryGetValue(streamId, out var chain))
        {
            if (startTenant is not null || chain.Stored != readVersion)
            {
                throw new ConcurrencyException(streamId, chain.Stored ?? 0, readVersion);
            }
            from = chain.Next;
        }
        else if (startTenant is null && readVersion is null)
        {
            throw new ConcurrencyException(streamId, 0, null);
        }
        else
        {
            from = readVersion ?? 0;
            chain = new StreamAppends.Chain(readVersion);
        }
        chain.Next = from + events.Count;
        chains[streamId] = chain;
        var correlation = System.Diagnostics.Activity.Current?.TraceId.ToString();
        owner.AtCommit<StreamAppends>().Add(new StreamAppends.Append(streamId, startTenant, startType, from,
            [.. events.Select((e, i) => new StreamAppends.Event(Guid.CreateVersion7(), from + i + 1, EventTypes.NameOf(e.GetType()),
                JsonSerializer.Serialize(e, e.GetType(), Json), correlation, CausationId))]));
    }

    private async Task RunAlone(PendingAppend append, CancellationToken ct)
    {
        if (append.Count == 0)
        {
            return;
        }
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(append.Command);
        await batch.ExecuteNonQueryAsync(ct);
        await append.Check(ct);
    }

    /// <summary>The stream statement (a CTE named s returning the tenant) followed by the insert of every event, numbered from fromVersion.</summary>
    private NpgsqlBatchCommand EventsCommand(string streamCte, Guid streamId, long fromVersion, IReadOnlyList<object> events)
    {
        var cmd = new NpgsqlBatchCommand(streamCte + """

            insert into events (id, stream_id, version, type, data, tenant_id, correlation_id, causation_id)
            select e.id, @stream, e.version, e.type, e.data::jsonb, s.tenant_id, @correlation, @causation
            from s, unnest(@ids, @versions, @types, @data) with ordinality as e(id, version, type, data, n)
            order by e.n
            """);
        cmd.Parameters.AddWithValue("stream", streamId);
        cmd.Parameters.AddWithValue("new", fromVersion + events.Count);
        cmd.Parameters.AddWithValue("ids", events.Select(_ => Guid.CreateVersion7()).ToArray());
        cmd.Parameters.AddWithValue("versions", events.Select((_, i) => fromVersion + i + 1).ToArray());
        cmd.Parameters.AddWithValue("types", events.Select(e => EventTypes.NameOf(e.GetType())).ToArray());
        cmd.Parameters.AddWithValue("data", events.Select(e => JsonSerializer.Serialize(e, e.GetType(), Json)).ToArray());
        cmd.Parameters.AddWithValue("correlation", (object?)System.Diagnostics.Activity.Current?.TraceId.ToString() ?? DBNull.Value);
        cmd.Parameters.AddWithValue("causation", (object?)CausationId ?? DBNull.Value);
        return cmd;
    }

    /// <summary>An append's statement; Check, after it ran, throws ConcurrencyException if it lost.</summary>
    private sealed class PendingAppend
    {
        private readonly EventStoreSession _session;
        private readonly Guid _streamId;
        private readonly long _expectedVersion;

        internal PendingAppend(EventStoreSession session, NpgsqlBatchCommand command, Guid streamId, long expectedVersion, int count)
        {
            (_session, Command, _streamId, _expectedVersion, Count) = (session, command, streamId, expectedVersion, count);
        }

        public NpgsqlBatchCommand Command { get; }
        internal int Count { get; }

        public async Task Check(CancellationToken ct)
        {
            if (Command.RecordsAffected != Count)
            {
                throw new ConcurrencyException(_streamId, _expectedVersion, await _session.StreamVersion(_streamId, ct));
            }
        }
    }

    public async Task<long?> StreamVersion(Guid streamId, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand("select version from streams where id = @id", connection, transaction);
        cmd.Parameters.AddWithValue("id", streamId);
        return await cmd.ExecuteScalarAsync(ct) as long?;
    }

    public async Task<IReadOnlyList<StoredEvent>> FetchStream(Guid streamId, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand("""
            select seq_id, id, version, type, data, timestamp from events where stream_id = @id order by version
            """, connection, transaction);
        cmd.Parameters.AddWithValue("id", streamId);
        var result = new List<StoredEvent>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var type = reader.GetString(3);
            var data = JsonSerializer.Deserialize(reader.GetString(4), types.Resolve(type), Json)!;
            result.Add(new StoredEvent(reader.GetInt64(0), reader.GetGuid(1), streamId, reader.GetInt64(2), type, data,
                reader.GetFieldValue<DateTimeOffset>(5)));
        }
        return result;
    }

    /// <summary>The message that caused the events appended in this session (the consumed message id, for audit).</summary>
    public string? CausationId { get; set; }
}

/// <summary>
/// The appends a transaction makes at commit (<see cref="EventStoreSession.AppendAtCommit"/>), written in one statement:
/// each stream started or moved from the version the transaction first read to the version after its last append (only
/// when it is still there), and the events of the streams that moved. When any stream did not move, nothing of it is
/// written and the transaction does not commit (ConcurrencyException), so a concurrent change to one customer sends the
/// whole transaction back to be decided again, as an append at once did.
/// </summary>
public sealed class StreamAppends : Persistence.CommitRows<StreamAppends.Append>
{
    public sealed record Event(Guid Id, long Version, string Type, string Data, string? Correlation, string? Causation);

    /// <summary>One append call: a stream start when Tenant is given, else an append after FromVersion.</summary>
    public sealed record Append(Guid StreamId, string? Tenant, string? AggregateType, long FromVersion, IReadOnlyList<Event> Events);

    /// <summary>Where each stream this transaction appends to stood when first read (null: started here), and where its appends end.</summary>
    public sealed class Chains : Dictionary<Guid, Chain>;

    public sealed class Chain(long? stored)
    {
        public long? Stored { get; } = stored;
        public long Next { get; set; }
    }

    protected override NpgsqlBatchCommand Write(IReadOnlyList<Append> rows)
    {
        var streams = Streams(rows);
        var events = rows.SelectMany(r => r.Events.Select(e => (r.StreamId, Event: e))).ToList();
        var cmd = new NpgsqlBatchCommand("""
            with input as (
                select * from unnest(@streams, @tenants, @aggregates, @stored, @new) as i(id, tenant, aggregate, stored, new)),
            started as (
                insert into streams (id, type, version, tenant_id) select id, aggregate, new, tenant from input where tenant is not null
                on conflict (id) do nothing
                returning id, tenant_id),
            moved as (
                update streams s set version = i.new, timestamp = now() from input i
                where i.tenant is null and s.id = i.id and s.version = i.stored
                returning s.id, s.tenant_id),
            ok as (select id, tenant_id from started union all select id, tenant_id from moved)
            insert into events (id, stream_id, version, type, data, tenant_id, correlation_id, causation_id)
            select e.id, e.stream, e.version, e.type, e.data::jsonb, ok.tenant_id, e.correlation, e.causation
            from unnest(@ids, @eventStreams, @versions, @types, @data, @correlations, @causations)
                with ordinality as e(id, stream, version, type, data, correlation, causation, n)
            join ok on ok.id = e.stream
            order by e.n
            """);
        cmd.Parameters.AddWithValue("streams", streams.Select(s => s.Id).ToArray());
        cmd.Parameters.AddWithValue("tenants", NpgsqlDbType.Array | NpgsqlDbType.Text, streams.Select(s => s.Tenant).ToArray());
        cmd.Parameters.AddWithValue("aggregates", NpgsqlDbType.Array | NpgsqlDbType.Text, streams.Select(s => s.Aggregate).ToArray());
        cmd.Parameters.AddWithValue("stored", NpgsqlDbType.Array | NpgsqlDbType.Bigint, streams.Select(s => (object?)s.Stored ?? DBNull.Value).ToArray());
        cmd.Parameters.AddWithValue("new", streams.Select(s => s.New).ToArray());
        cmd.Parameters.AddWithValue("ids", events.Select(e => e.Event.Id).ToArray());
        cmd.Parameters.AddWithValue("eventStreams", events.Select(e => e.StreamId).ToArray());
        cmd.Parameters.AddWithValue("versions", events.Select(e => e.Event.Version).ToArray());
        cmd.Parameters.AddWithValue("types", events.Select(e => e.Event.Type).ToArray());
        cmd.Parameters.AddWithValue("data", events.Select(e => e.Event.Data).ToArray());
        cmd.Parameters.AddWithValue("correlations", NpgsqlDbType.Array | NpgsqlDbType.Text, events.Select(e => e.Event.Correlation).ToArray());
        cmd.Parameters.AddWithValue("causations", NpgsqlDbType.Array | NpgsqlDbType.Text, events.Select(e => e.Event.Causation).ToArray());
        return cmd;
    }

    /// <summary>Per stream, in the order first appended: started (with its tenant) or moved from its first read version to its last.</summary>
    private static List<(Guid Id, string? Tenant, string? Aggregate, long? Stored, long New)> Streams(IReadOnlyList<Append> rows) =>
        [.. rows.GroupBy(r => r.StreamId).Select(g => (g.Key, g.First().Tenant, g.First().AggregateType,
            g.First().Tenant is null ? (long?)g.First().FromVersion : null, g.Last().FromVersion + g.Last().Events.Count))];

    protected override async Task Verify(IReadOnlyList<Append> rows, IReadOnlyList<NpgsqlBatchCommand> commands, Persistence.Session session,
        CancellationToken ct)
    {
        if (commands[0].RecordsAffected == rows.Sum(r => r.Events.Count))
        {
            return;
        }
        // Some stream was not where this transaction found it: name the first one whose events were not written, as an
        // append at once would have.
        var streams = Streams(rows);
        var written = (await session.Query<Guid>("select distinct stream_id from events where id = any(@ids)",
            new { ids = rows.SelectMany(r => r.Events.Select(e => e.Id)).ToArray() }, ct)).ToHashSet();
        var lost = streams.FirstOrDefault(s => !written.Contains(s.Id), streams[0]);
        var found = await session.Scalar<long?>("select version from streams where id = @id", new { id = lost.Id }, ct);
        throw new ConcurrencyException(lost.Id, lost.Stored ?? 0, found);
    }
}
