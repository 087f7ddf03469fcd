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
/// stream and event carrying its tenant (conjoined tenancy), appended in Marten's rich mode with each event's causation
/// and correlation: the events' versions come from the expected version, each event one insert in the session's batch.
/// (Quick mode's append function cost more here: tools/bench --batch 1 --rate 250 --profile put it at the top of
/// identity's statements, 1,246 ms for 7,500 contacts, and accepted -> scored p99 at 355 ms against 181 in rich mode.)
/// Its tables are made at start-up by the schema migrator, before the service's migrations (<see cref="MartenSchema"/>);
/// nothing is created on first use.
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
            o.Events.AppendMode = EventAppendMode.Rich;
            o.Events.MetadataConfig.CorrelationIdEnabled = true;
            o.Events.MetadataConfig.CausationIdEnabled = true;
            foreach (var type in eventTypes)
            {
                o.Events.AddEventType(type);
            }
        });
}

/// <summary>Marten's event store tables and functions, brought up to date by the schema migrator.</summary>
internal sealed class MartenSchema(IDocumentStore store) : ISchemaObjects
{
    public Task Apply(CancellationToken ct) => store.Storage.Database.ApplyAllConfiguredChangesToDatabaseAsync(ct: ct);
}

/// <summary>
/// A transaction's view of the event store: appends that Marten writes at commit, in the transaction's own connection
/// and transaction, together with its outbox rows. The appends of every session of one transaction are saved together,
/// one Marten session and one round trip, each stream only from the version the transaction read (or started, when
/// it must be new); when any stream moved meanwhile the whole transaction fails with <see cref="ConcurrencyException"/>
/// and is decided again on fresh state.
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

    private IDocumentStore Store =>
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
        await using var session = Open(tenantId);
        return await session.Events.FetchStreamAsync(streamId, token: ct);
    }

    private IDocumentSession Open(string? tenantId)
    {
        var options = SessionOptions.ForTransaction(owner.Transaction);
        if (tenantId is not null)
        {
            options.TenantId = tenantId;
        }
        return Store.LightweightSession(options);
    }

    /// <summary>
    /// Writes the appends of a transaction's sessions through one Marten session, in one round trip, in the transaction;
    /// ConcurrencyException when a stream moved since it was read or a stream to start exists.
    /// </summary>
    internal static async Task SaveAtCommit(IReadOnlyList<Persistence.Session> sessions, CancellationToken ct)
    {
        var appends = sessions.SelectMany(s => s.Events._appends).ToList();
        if (appends.Count == 0)
        {
            return;
        }
        var streams = sessions[0].Shared<StreamsRead>();
        await using var marten = sessions[0].Events.Open(null);
        // In stream id order, so two transactions moving the same streams take their rows' locks in the same order.
        var byStream = appends.GroupBy(a => a.Stream).OrderBy(g => g.Key).ToList();
        foreach (var stream in byStream)
        {
            var (tenant, stored, started) = streams[stream.Key];
            var operations = marten.ForTenant(tenant).Events;
            var events = stream.Select(e =>
            {
                var built = operations.BuildEvent(e.Data);
                built.CausationId = e.Causation;
                built.CorrelationId = e.Correlation;
                return (object)built;
            }).ToArray();
            if (started is not null)
            {
                operations.StartStream(started, stream.Key, events);
            }
            else
            {
                operations.Append(stream.Key, stored!.Value + events.Length, events);
            }
        }
        // Marten's append at an expected version refuses a stream that moved, but starts one that is missing again: a
        // stream that went (its customer erased) after this transaction read it would come back. After the appends, in
        // the same round trip, each stream appended to must still hold the event at the version read.
        var kept = byStream.Select(g => g.Key).Where(id => streams[id].Started is null).ToArray();
        if (kept.Length > 0)
        {
            marten.QueueSqlCommand("select contacts_streams_kept(?, ?, ?)", kept.Select(id => streams[id].Tenant).ToArray(), kept,
                kept.Select(id => streams[id].Stored!.Value).ToArray());
        }
        try
        {
            await marten.SaveChangesAsync(ct);
        }
        catch (Exception e) when (Conflict(e, appends[0].Stream) is var (id, gone))
        {
            throw new ConcurrencyException(id, streams.GetValueOrDefault(id)?.Stored ?? 0, gone ? "is gone (erased)" : $"has moved ({e.Message})", e);
        }
    }

    /// <summary>What contacts_streams_kept raises for a stream that went ("stream {id} is gone": the detail is redacted).</summary>
    private const string StreamGone = "CT409";

    /// <summary>
    /// The stream a failed save conflicted on (unnamed when the database kept the detail back: the first appended to) and
    /// whether it went rather than moved, or null when the failure is not a conflict.
    /// </summary>
    internal static (Guid Stream, bool Gone)? Conflict(Exception e, Guid unnamed) => e switch
    {
        EventStreamUnexpectedMaxEventIdException moved => (moved.Id as Guid? ?? unnamed, false),
        ExistingStreamIdCollisionException exists => (exists.Id as Guid? ?? unnamed, false),
        Marten.Exceptions.ExistingStreamIdCollisionException exists => (exists.Id as Guid? ?? unnamed, false),
        { InnerException: PostgresException { SqlState: StreamGone } gone } =>
            (Guid.TryParse(gone.MessageText.Split(' ').ElementAtOrDefault(1), out var id) ? id : unnamed, true),
        // The stream's row went while the append waited for it: its events no longer have a stream to belong to.
        { InnerException: PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation, ConstraintName: "fkey_mt_events_stream_id_tenant_id" } } =>
            (unnamed, true),
        _ => null,
    };

    /// <summary>The streams a transaction appends to at commit, shared by its sessions.</summary>
    private sealed class StreamsRead : Dictionary<Guid, StreamRead>;

    /// <summary>A stream as the transaction found it: its version (null: started here, as an aggregate of type Started).</summary>
    private sealed record StreamRead(string Tenant, long? Stored, Type? Started);
}
