using System.Text.Json;
using JasperFx;
using JasperFx.Events;
using JasperFx.MultiTenancy;
using Marten;
using Marten.Services;
using Contacts.Persistence;
using Npgsql;
using Weasel.Core;

namespace Contacts.Messaging.EventStore;

/// <summary>An append was made against a stream version that is no longer current; reload and decide again.</summary>
public sealed class ConcurrencyException : Exception
{
    public ConcurrencyException(Guid streamId, long expected, string found, Exception? inner = null)
        : base($"Stream {streamId} was expected at version {expected} but {found}", inner) => (StreamId, ExpectedVersion) = (streamId, expected);

    public ConcurrencyException(Guid streamId, long expected, long? actual)
        : this(streamId, expected, actual is null ? "is at nothing (no such stream)" : $"is at {actual}")
    {
    }

    public Guid StreamId { get; }
    public long ExpectedVersion { get; }
}

/// <summary>
/// The service's Marten event store: streams keyed by Guid in the service's own schema (mt_streams, mt_events), each
/// stream and event carrying its tenant (conjoined tenancy), with each event's causation and correlation. Marten reads
/// the streams and keeps the tables; the appends of a transaction are written set-based into them
/// (<see cref="EventStoreSession"/>), named and serialized as Marten does. (Marten's own session, in rich mode, wrote one
/// statement per stream and one per event; its quick mode called a function per stream, at the top of identity's
/// statements in tools/bench --batch 1 --rate 250 --profile.) Its tables are made at start-up by the schema migrator,
/// before the service's migrations (<see cref="MartenSchema"/>); nothing is created on first use.
/// </summary>
public static class MartenEvents
{
    public static DocumentStore Store(NpgsqlDataSource dataSource, string schema, IEnumerable<Type> eventTypes) =>
        DocumentStore.For(o =>
        {
            o.Connection(dataSource);
            o.DatabaseSchemaName = schema;
            o.AutoCreateSchemaObjects = AutoCreate.None;
            // Marten works inside transactions it does not own: a statement that failed there has aborted the whole
            // transaction, so a retry of Marten's own could only fail again ("current transaction is aborted") and hide
            // the first error (a deadlock, a conflict). Our consumers retry the whole transaction instead.
            o.ConfigurePolly(_ => { });
            o.ConfigureWritePolly(_ => { });
            // Camel case, as the events were stored before Marten and as every message we send is written.
            o.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
            o.Events.StreamIdentity = StreamIdentity.AsGuid;
            o.Events.TenancyStyle = TenancyStyle.Conjoined;
            o.Events.MetadataConfig.CorrelationIdEnabled = true;
            o.Events.MetadataConfig.CausationIdEnabled = true;
            foreach (var type in eventTypes)
            {
                o.Events.AddEventType(type);
            }
        });

    /// <summary>Marten's name for an event or stream type (mt_events.type, mt_streams.type): its class name in snake case.</summary>
    public static string TypeName(Type type) => type.GetEventTypeName();

    /// <summary>Marten's record of an event's class (mt_events.mt_dotnet_type): its full name and assembly.</summary>
    public static string ClassName(Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";
}

/// <summary>Marten's event store tables and functions, brought up to date by the schema migrator.</summary>
internal sealed class MartenSchema(IDocumentStore store) : ISchemaObjects
{
    public Task Apply(CancellationToken ct) => store.Storage.Database.ApplyAllConfiguredChangesToDatabaseAsync(ct: ct);
}

/// <summary>
/// A transaction's view of the event store: appends written at commit into Marten's tables, in the transaction's own
/// connection and transaction, together with its outbox rows. The appends of every session of one transaction are saved
/// together in one round trip, each stream only from the version the transaction read (or started, when it must be new);
/// when any stream moved or went meanwhile the whole transaction fails with <see cref="ConcurrencyException"/> and is
/// decided again on fresh state.
/// </summary>
public sealed class EventStoreSession(IDocumentStore? store, Persistence.Session owner)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The message that caused the events appended in this session (the consumed message id, for audit).</summary>
    public string? CausationId { get; set; }

    /// <summary>
    /// Starts the stream at commit with these events; the transaction fails with ConcurrencyException at once when it
    /// already appended to the stream, and at commit when the stream exists by then.
    /// </summary>
    public void StartStreamAtCommit<TAggregate>(Guid streamId, string tenantId, IReadOnlyList<object> events) =>
        AtCommit(streamId, tenantId, null, events, typeof(TAggregate));

    /// <summary>
    /// Appends at commit. readVersion is the stream's version as this transaction read it from the database (null when it
    /// found no stream: one started earlier in this transaction). An earlier append of this transaction to the same
    /// stream is built on (the events follow its events) when it was made on the same read; otherwise, or when the stream
    /// moved by commit, ConcurrencyException.
    /// </summary>
    public void AppendAtCommit(Guid streamId, string tenantId, long? readVersion, IReadOnlyList<object> events) =>
        AtCommit(streamId, tenantId, readVersion, events, null);

    /// <summary>
    /// Appends at commit to a stream this transaction read at readVersion, or starts it when the read found none and this
    /// transaction did not start it already (then the events follow those, as for <see cref="AppendAtCommit"/>). A stream
    /// another writer started meanwhile fails the transaction at commit, as any start would.
    /// </summary>
    public void AppendOrStartAtCommit<TAggregate>(Guid streamId, string tenantId, long? readVersion, IReadOnlyList<object> events) =>
        AtCommit(streamId, tenantId, readVersion, events,
            readVersion is null && !owner.Shared<StreamsRead>().ContainsKey(streamId) ? typeof(TAggregate) : null);

    internal IDocumentStore Store =>
        store ?? throw new InvalidOperationException("This service registers no event types, so it has no event store");

    private void AtCommit(Guid streamId, string tenantId, long? readVersion, IReadOnlyList<object> events, Type? started)
    {
        _ = Store; // a service without an event store fails here, not at commit
        if (events.Count == 0)
        {
            return;
        }
        var pending = owner.Shared<StreamsRead>();
        if (pending.TryGetValue(streamId, out var stream))
        {
            if (started is not null || stream.Stored != readVersion)
            {
                throw new ConcurrencyException(streamId, stream.Stored ?? 0, readVersion);
            }
        }
        else if (started is null && readVersion is null)
        {
            throw new ConcurrencyException(streamId, 0, null);
        }
        else
        {
            pending[streamId] = new StreamRead(tenantId, readVersion, started);
        }
        var correlation = System.Diagnostics.Activity.Current?.TraceId.ToString();
        _appends.AddRange(events.Select(e => (streamId, e, CausationId, correlation)));
    }

    /// <summary>This session's events to append at commit, in order (the streams' state is the transaction's).</summary>
    private readonly List<(Guid Stream, object Data, string? Causation, string? Correlation)> _appends = [];

    /// <summary>
    /// The stream's version now (null: no such stream), read in this transaction; appends at commit that follow it fail
    /// when it moves before then.
    /// </summary>
    public Task<long?> StreamVersion(Guid streamId, string tenantId, CancellationToken ct = default) =>
        owner.Scalar<long?>("select version from mt_streams where tenant_id = @tenantId and id = @streamId", new { tenantId, streamId }, ct);

    /// <summary>The stream's events in order, read in this transaction.</summary>
    public async Task<IReadOnlyList<IEvent>> FetchStream(Guid streamId, string tenantId, CancellationToken ct = default)
    {
        var options = SessionOptions.ForTransaction(owner.Transaction);
        options.TenantId = tenantId;
        await using var session = Store.LightweightSession(options);
        return await session.Events.FetchStreamAsync(streamId, token: ct);
    }

    /// <summary>
    /// Writes the appends of a transaction's sessions into Marten's tables, set-based, in one round trip, in the
    /// transaction: the streams to start in one insert, the streams appended to locked in id order and moved in one
    /// update that checks each is still at the version read, every event in one insert (serialized and named as Marten
    /// does, so Marten reads them back). Marten's own session writes a statement per stream and one per event, which for
    /// a batch of a hundred contacts was two hundred statements where these are four. ConcurrencyException when a stream
    /// moved or went since it was read, or a stream to start exists.
    /// </summary>
    internal static async Task SaveAtCommit(IReadOnlyList<Persistence.Session> sessions, CancellationToken ct)
    {
        var appends = sessions.SelectMany(s => s.Events._appends).ToList();
        if (appends.Count == 0)
        {
            return;
        }
        var owner = sessions[0];
        var streams = owner.Shared<StreamsRead>();
        var serializer = owner.Events.Store.Options.Serializer();
        var byStream = appends.GroupBy(a => a.Stream).OrderBy(g => g.Key).ToList();
        var started = byStream.Where(g => streams[g.Key].Started is not null).Select(g => (g.Key, Read: streams[g.Key], Count: g.Count())).ToList();
        var moved = byStream.Where(g => streams[g.Key].Started is null).Select(g => (g.Key, Read: streams[g.Key], Count: g.Count())).ToList();
        var events = byStream.SelectMany(g => g.Select((e, i) => (Stream: g.Key, Version: (streams[g.Key].Stored ?? 0) + i + 1, e.Data, e.Causation, e.Correlation)))
            .ToList();

        await using var batch = new NpgsqlBatch(owner.Connection, owner.Transaction);
        NpgsqlBatchCommand? start = null, move = null;
        if (started.Count > 0)
        {
            start = new NpgsqlBatchCommand("""
                insert into mt_streams (tenant_id, id, type, version, timestamp, created)
                select tenant, id, type, version, now(), now() from unnest(@tenants, @ids, @types, @versions) as s(tenant, id, type, version)
                on conflict do nothing
                """);
            start.Parameters.AddWithValue("tenants", started.Select(s => s.Read.Tenant).ToArray());
            start.Parameters.AddWithValue("ids", started.Select(s => s.Key).ToArray());
            start.Parameters.AddWithValue("types", started.Select(s => MartenEvents.TypeName(s.Read.Started!)).ToArray());
            start.Parameters.AddWithValue("versions", started.Select(s => (long)s.Count).ToArray());
            batch.BatchCommands.Add(start);
        }
        if (moved.Count > 0)
        {
            // Locked in id order first, so two transactions moving the same streams wait for each other instead of deadlocking.
            var tenants = moved.Select(m => m.Read.Tenant).ToArray();
            var ids = moved.Select(m => m.Key).ToArray();
            var locks = new NpgsqlBatchCommand("""
                select 1 from mt_streams s join unnest(@tenants, @ids) as m(tenant, id) on s.tenant_id = m.tenant and s.id = m.id
                order by s.id for update of s
                """);
            locks.Parameters.AddWithValue("tenants", tenants);
            locks.Parameters.AddWithValue("ids", ids);
            move = new NpgsqlBatchCommand("""
                update mt_streams s set version = m.version, timestamp = now()
                from unnest(@tenants, @ids, @expected, @versions) as m(tenant, id, expected, version)
                where s.tenant_id = m.tenant and s.id = m.id and s.version = m.expected
                """);
            move.Parameters.AddWithValue("tenants", tenants);
            move.Parameters.AddWithValue("ids", ids);
            move.Parameters.AddWithValue("expected", moved.Select(m => m.Read.Stored!.Value).ToArray());
            move.Parameters.AddWithValue("versions", moved.Select(m => m.Read.Stored!.Value + m.Count).ToArray());
            batch.BatchCommands.Add(locks);
            batch.BatchCommands.Add(move);
        }
        var insert = new NpgsqlBatchCommand("""
            insert into mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, correlation_id, causation_id)
            select nextval('mt_events_sequence'), id, stream, version, data::jsonb, type, now(), tenant, class, correlation, causation
            from unnest(@ids, @streams, @versions, @data, @types, @tenants, @classes, @correlations, @causations)
                as e(id, stream, version, data, type, tenant, class, correlation, causation)
            """);
        insert.Parameters.AddWithValue("ids", events.Select(_ => Guid.CreateVersion7()).ToArray());
        insert.Parameters.AddWithValue("streams", events.Select(e => e.Stream).ToArray());
        insert.Parameters.AddWithValue("versions", events.Select(e => e.Version).ToArray());
        insert.Parameters.AddWithValue("data", events.Select(e => serializer.ToJson(e.Data)).ToArray());
        insert.Parameters.AddWithValue("types", events.Select(e => MartenEvents.TypeName(e.Data.GetType())).ToArray());
        insert.Parameters.AddWithValue("tenants", events.Select(e => streams[e.Stream].Tenant).ToArray());
        insert.Parameters.AddWithValue("classes", events.Select(e => MartenEvents.ClassName(e.Data.GetType())).ToArray());
        insert.Parameters.Add(new NpgsqlParameter("correlations", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
            { Value = events.Select(e => e.Correlation).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter("causations", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
            { Value = events.Select(e => e.Causation).ToArray() });
        batch.BatchCommands.Add(insert);
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (Conflict(e) is { } gone)
        {
            // The database keeps the detail back: a stream appended to is named, or else one started.
            var (first, read, _) = moved.Count > 0 ? moved[0] : started[0];
            throw new ConcurrencyException(first, read.Stored ?? 0, gone ? "is gone (erased)" : $"has moved ({e.MessageText})", e);
        }
        if (start is not null && start.RecordsAffected != started.Count)
        {
            var (id, read, _) = started[0];
            throw new ConcurrencyException(id, 0, "exists already (started by another writer)");
        }
        if (move is not null && move.RecordsAffected != moved.Count)
        {
            var (id, read, _) = moved[0];
            throw new ConcurrencyException(id, read.Stored!.Value, "has moved or gone since it was read");
        }
    }

    /// <summary>
    /// Whether a failed save is a conflict, and whether a stream went rather than moved, or null when it is not one: an
    /// event's version another writer took first, or a stream whose row went (its customer erased) while the save waited.
    /// </summary>
    internal static bool? Conflict(PostgresException e) => e switch
    {
        { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "pk_mt_events_stream_and_version" } => false,
        { SqlState: PostgresErrorCodes.ForeignKeyViolation, ConstraintName: "fkey_mt_events_stream_id_tenant_id" } => true,
        _ => null,
    };

    /// <summary>The streams a transaction appends to at commit, shared by its sessions.</summary>
    private sealed class StreamsRead : Dictionary<Guid, StreamRead>;

    /// <summary>A stream as the transaction found it: its version (null: started here, as an aggregate of type Started).</summary>
    private sealed record StreamRead(string Tenant, long? Stored, Type? Started);
}
