using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.ServiceDefaults.EventStore;

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
/// A small event store shaped like Marten's (StartStream, Append with expected version, FetchStream, AggregateStream),
/// working inside the caller's transaction. Marten is not served to us; moving to it later should be a swap.
/// </summary>
public sealed class EventStoreSession(NpgsqlConnection connection, NpgsqlTransaction transaction, EventTypes types)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Creates a stream at version events.Length; fails with ConcurrencyException when it already exists.</summary>
    public async Task StartStream<TAggregate>(Guid streamId, string tenantId, IReadOnlyList<object> events, CancellationToken ct = default)
    {
        await using (var cmd = new NpgsqlCommand("""
            insert into streams (id, type, version, tenant_id) values (@id, @type, @version, @tenant)
            on conflict (id) do nothing
            """, connection, transaction))
        {
            cmd.Parameters.AddWithValue("id", streamId);
            cmd.Parameters.AddWithValue("type", typeof(TAggregate).Name);
            cmd.Parameters.AddWithValue("version", (long)events.Count);
            cmd.Parameters.AddWithValue("tenant", tenantId);
            if (await cmd.ExecuteNonQueryAsync(ct) == 0)
            {
                throw new ConcurrencyException(streamId, 0, await StreamVersion(streamId, ct));
            }
        }
        await InsertEvents(streamId, tenantId, 0, events, ct);
    }

    /// <summary>Appends after expectedVersion; fails with ConcurrencyException if another writer got there first.</summary>
    public async Task Append(Guid streamId, long expectedVersion, IReadOnlyList<object> events, CancellationToken ct = default)
    {
        if (events.Count == 0)
        {
            return;
        }
        string tenantId;
        await using (var cmd = new NpgsqlCommand("""
            update streams set version = @new, timestamp = now()
            where id = @id and version = @expected
            returning tenant_id
            """, connection, transaction))
        {
            cmd.Parameters.AddWithValue("id", streamId);
            cmd.Parameters.AddWithValue("expected", expectedVersion);
            cmd.Parameters.AddWithValue("new", expectedVersion + events.Count);
            tenantId = await cmd.ExecuteScalarAsync(ct) as string
                ?? throw new ConcurrencyException(streamId, expectedVersion, await StreamVersion(streamId, ct));
        }
        await InsertEvents(streamId, tenantId, expectedVersion, events, ct);
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

    /// <summary>Folds the stream into a new T through its Apply(event) methods; null when the stream does not exist.</summary>
    public async Task<T?> AggregateStream<T>(Guid streamId, CancellationToken ct = default) where T : class, IAggregate, new()
    {
        var events = await FetchStream(streamId, ct);
        if (events.Count == 0)
        {
            return null;
        }
        var aggregate = new T { Id = streamId };
        foreach (var e in events)
        {
            Aggregator<T>.Apply(aggregate, e.Data);
            aggregate.Version = e.Version;
        }
        return aggregate;
    }

    private async Task InsertEvents(Guid streamId, string tenantId, long fromVersion, IReadOnlyList<object> events, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        var version = fromVersion;
        foreach (var e in events)
        {
            var cmd = new NpgsqlBatchCommand("""
                insert into events (id, stream_id, version, type, data, tenant_id, correlation_id, causation_id)
                values (@id, @stream, @version, @type, @data, @tenant, @correlation, @causation)
                """);
            cmd.Parameters.AddWithValue("id", Guid.CreateVersion7());
            cmd.Parameters.AddWithValue("stream", streamId);
            cmd.Parameters.AddWithValue("version", ++version);
            cmd.Parameters.AddWithValue("type", EventTypes.NameOf(e.GetType()));
            cmd.Parameters.AddWithValue("data", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(e, e.GetType(), Json));
            cmd.Parameters.AddWithValue("tenant", tenantId);
            cmd.Parameters.AddWithValue("correlation", (object?)System.Diagnostics.Activity.Current?.TraceId.ToString() ?? DBNull.Value);
            cmd.Parameters.AddWithValue("causation", (object?)CausationId ?? DBNull.Value);
            batch.BatchCommands.Add(cmd);
        }
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The message that caused the events appended in this session (the consumed message id, for audit).</summary>
    public string? CausationId { get; set; }
}

/// <summary>What AggregateStream needs of an aggregate: its stream id and the version it was built from.</summary>
public interface IAggregate
{
    Guid Id { get; set; }
    long Version { get; set; }
}

/// <summary>Finds and caches T's one-argument Apply methods, the Marten convention for self-aggregating types.</summary>
public static class Aggregator<T>
{
    private static readonly ConcurrentDictionary<Type, MethodInfo?> Methods = new();

    public static void Apply(T aggregate, object e)
    {
        var method = Methods.GetOrAdd(e.GetType(), t => typeof(T).GetMethod("Apply", BindingFlags.Public | BindingFlags.Instance, [t]));
        method?.Invoke(aggregate, [e]);
    }
}
