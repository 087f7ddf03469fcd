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
public sealed class EventStoreSession(NpgsqlConnection connection, NpgsqlTransaction transaction, EventTypes types)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Creates a stream at version events.Length; fails with ConcurrencyException when it already exists.</summary>
    public Task StartStream<TAggregate>(Guid streamId, string tenantId, IReadOnlyList<object> events, CancellationToken ct = default) =>
        RunAlone(StartStreamIn<TAggregate>(streamId, tenantId, events), ct);

    /// <summary>Appends after expectedVersion; fails with ConcurrencyException if another writer got there first.</summary>
    public Task Append(Guid streamId, long expectedVersion, IReadOnlyList<object> events, CancellationToken ct = default) =>
        RunAlone(AppendIn(streamId, expectedVersion, events), ct);

    /// <summary>
    /// StartStream as one statement for the caller's batch (the stream row and its events together); run the batch, then
    /// <see cref="PendingAppend.Check"/>. Nothing is written when the stream already exists.
    /// </summary>
    public PendingAppend StartStreamIn<TAggregate>(Guid streamId, string tenantId, IReadOnlyList<object> events)
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
    /// Append as one statement for the caller's batch: the version moves and the events are written only when the stream
    /// is still at expectedVersion. Run the batch, then <see cref="PendingAppend.Check"/>.
    /// </summary>
    public PendingAppend AppendIn(Guid streamId, long expectedVersion, IReadOnlyList<object> events)
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

    /// <summary>An append placed in a caller's batch; Check, after the batch ran, throws ConcurrencyException if it lost.</summary>
    public sealed class PendingAppend
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
