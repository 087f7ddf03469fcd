using System.Text.Json;
using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Effort.Scoring;

/// <summary>
/// A customer's effort state as stored: the events of its open window, the version, where it was merged to, and the
/// version of its stream in the event store (null: it has none yet), which the batch appends at.
/// </summary>
public sealed record CustomerSnapshot(Guid CustomerId, string TenantId, long Version, Guid? MergedInto, IReadOnlyList<ContactEvent> Events,
    long? StreamVersion);

/// <summary>
/// The thin SQL shell around the pure scoring: loads and saves snapshots with optimistic concurrency (a save against a
/// version that moved throws ConcurrencyException, the message is retried and decided again on fresh state), appends
/// what changed to the customers' streams in the event store (<see cref="ContactStream"/>), which keep every contact for
/// replay, and writes each journey's scores for reads and calibration.
/// </summary>
public sealed class EffortStore(IOptions<EffortSettings> defaults)
{
    internal static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    public async Task<EffortSettings> Settings(NpgsqlConnection connection, NpgsqlTransaction? tx, string tenantId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(SettingsQuery, connection, tx);
        cmd.Parameters.AddWithValue("t", tenantId);
        return SettingsFrom(await cmd.ExecuteScalarAsync(ct));
    }

    private const string SettingsQuery = "select settings from effort_settings where tenant_id = @t";

    /// <summary>The tenant's stored settings, or the deployment's defaults when it has none.</summary>
    private EffortSettings SettingsFrom(object? stored) =>
        stored is string json ? JsonSerializer.Deserialize<EffortSettings>(json, Json)! : defaults.Value;

    /// <summary>
    /// Snapshots with the version of their stream (by its key), and the version of a customer's stream where it has no
    /// snapshot (a split's other side that held no contacts): that stream is appended to, not started again.
    /// </summary>
    private const string Snapshots = """
        select i.id, coalesce(c.tenant_id, i.tenant), c.version, c.merged_into, c.snapshot, s.version
        from unnest(@tenants, @ids) as i(tenant, id)
        left join customer_effort c on c.customer_id = i.id
        left join mt_streams s on s.tenant_id = coalesce(c.tenant_id, i.tenant) and s.id = i.id
        where c.customer_id is not null or s.id is not null
        """;

    private static NpgsqlBatchCommand SnapshotsOf(IEnumerable<(string Tenant, Guid Id)> customers)
    {
        var wanted = customers.Distinct().ToList();
        var cmd = new NpgsqlBatchCommand(Snapshots);
        cmd.Parameters.AddWithValue("tenants", wanted.Select(w => w.Tenant).ToArray());
        cmd.Parameters.AddWithValue("ids", wanted.Select(w => w.Id).ToArray());
        return cmd;
    }

    public static async Task<CustomerSnapshot?> Load(Session session, string tenantId, Guid customerId, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(session.Connection, session.Transaction) { BatchCommands = { SnapshotsOf([(tenantId, customerId)]) } };
        await using var reader = await batch.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadSnapshot(reader).Snapshot : null;
    }

    /// <summary>A row of <see cref="Snapshots"/>: the customer's snapshot, or (without one) its stream's version.</summary>
    private static (Guid Id, CustomerSnapshot? Snapshot, long? StreamVersion) ReadSnapshot(NpgsqlDataReader reader)
    {
        var (id, streamVersion) = (reader.GetGuid(0), reader.IsDBNull(5) ? (long?)null : reader.GetInt64(5));
        return reader.IsDBNull(2)
            ? (id, null, streamVersion)
            : (id, new CustomerSnapshot(id, reader.GetString(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetGuid(3),
                JsonSerializer.Deserialize<List<ContactEvent>>(reader.GetString(4), Json)!, streamVersion), streamVersion);
    }

    /// <summary>
    /// What a batch decides on (<see cref="EffortBatchState"/>) in one round trip; only a merge chain whose survivor no item
    /// names takes another, per link.
    /// </summary>
    public async Task<EffortBatchState> LoadBatch(Session session, IReadOnlyList<ContactAttributed> items, CancellationToken ct)
    {
        var named = items.Select(i => i.CustomerId).ToArray();
        var streams = new Dictionary<Guid, long>();
        var erased = new HashSet<Guid>();
        var settings = new Dictionary<string, EffortSettings>();
        var snapshots = new Dictionary<Guid, CustomerSnapshot>();
        var below = new Dictionary<Guid, List<Guid>>();
        (string Tenant, Guid Id)[] wanted = [.. items.SelectMany(i => i.MergedCustomerIds.Append(i.CustomerId).Select(id => (i.TenantId, id))).Distinct()];
        var first = true;
        while (wanted.Length > 0)
        {
            await using var batch = new NpgsqlBatch(session.Connection, session.Transaction);
            if (first)
            {
                var erasedQuery = new NpgsqlBatchCommand("select customer_id from erased_customers where customer_id = any(@ids)");
                erasedQuery.Parameters.AddWithValue("ids", named.Distinct().ToArray());
                var settingsQuery = new NpgsqlBatchCommand("select tenant_id, settings from effort_settings where tenant_id = any(@t)");
                settingsQuery.Parameters.AddWithValue("t", items.Select(i => i.TenantId).Distinct().ToArray());
                batch.BatchCommands.Add(erasedQuery);
                batch.BatchCommands.Add(settingsQuery);
            }
            var snapshotQuery = SnapshotsOf(wanted);
            var belowQuery = new NpgsqlBatchCommand("""
                with recursive absorbed(id, parent) as (
                    select customer_id, merged_into from customer_effort where merged_into = any(@ids)
                    union
                    select e.customer_id, e.merged_into from customer_effort e join absorbed a on e.merged_into = a.id)
                select id, parent from absorbed
                """);
            belowQuery.Parameters.AddWithValue("ids", wanted.Select(w => w.Id).ToArray());
            batch.BatchCommands.Add(snapshotQuery);
            batch.BatchCommands.Add(belowQuery);
            await using (var reader = await batch.ExecuteReaderAsync(ct))
            {
                if (first)
                {
                    while (await reader.ReadAsync(ct))
                    {
                        erased.Add(reader.GetGuid(0));
                    }
                    await reader.NextResultAsync(ct);
                    while (await reader.ReadAsync(ct))
                    {
                        settings[reader.GetString(0)] = SettingsFrom(reader.GetString(1));
                    }
                    await reader.NextResultAsync(ct);
                }
                while (await reader.ReadAsync(ct))
                {
                    switch (ReadSnapshot(reader))
                    {
                        case (_, { } snapshot, _):
                            snapshots[snapshot.CustomerId] = snapshot;
                            break;
                        case (var id, null, { } version):
                            streams[id] = version;
                            break;
                    }
                }
                await reader.NextResultAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    var (id, parent) = (reader.GetGuid(0), reader.GetGuid(1));
                    var list = below.TryGetValue(parent, out var known) ? known : below[parent] = [];
                    if (!list.Contains(id))
                    {
                        list.Add(id);
                    }
                }
            }
            first = false;
            wanted = [.. snapshots.Values.Where(s => s.MergedInto is { } next && !snapshots.ContainsKey(next) && !streams.ContainsKey(next))
                .Select(s => (s.TenantId, s.MergedInto!.Value)).Distinct()];
        }
        foreach (var tenant in items.Select(i => i.TenantId).Where(t => !settings.ContainsKey(t)))
        {
            settings[tenant] = defaults.Value;
        }
        return new EffortBatchState(erased, settings, snapshots, below.ToDictionary(b => b.Key, b => (IReadOnlyList<Guid>)b.Value), streams);
    }

    /// <summary>
    /// Writes what a batch decided in one round trip, one statement per table: each customer's row at its new version
    /// (checked against the version it was read at: when another writer saved first this throws ConcurrencyException and
    /// the batch is rolled back) and the journeys. What changed in each customer's stream is appended at commit, at the
    /// stream version read with the snapshot, in the same transaction and checked the same way.
    /// </summary>
    public static async Task SaveBatch(Session session, EffortBatchDecision decision, CancellationToken ct)
    {
        foreach (var customer in decision.Customers.Where(c => c.Appended.Count > 0))
        {
            session.Events.AppendOrStartAtCommit<CustomerContacts>(customer.CustomerId, customer.TenantId, customer.StreamVersion, customer.Appended);
        }
        await using var batch = new NpgsqlBatch(session.Connection, session.Transaction);
        if (decision.Customers.Where(c => c.MergedInto is null).ToList() is { Count: > 0 } scored)
        {
            batch.BatchCommands.Add(WatchCommand([.. scored.Select(c => c.TenantId)], [.. scored.Select(c => c.CustomerId)]));
        }
        var created = decision.Customers.Where(c => c.ExpectedVersion is null).ToList();
        var updated = decision.Customers.Where(c => c.ExpectedVersion is not null).ToList();
        NpgsqlBatchCommand? insert = null, update = null;
        if (created.Count > 0)
        {
            insert = CustomerRows(created, """
                insert into customer_effort (customer_id, tenant_id, score, predicted, contacts_in_window, channels_in_window, drivers,
                    contact_event_id, version, snapshot, journey_id, merged_into)
                select id, tenant, score, predicted, contacts, channels, drivers::jsonb, event, version, snapshot::jsonb, journey, merged
                from unnest(@ids, @tenants, @expected, @versions, @scores, @predicted, @contacts, @channels, @drivers, @events, @snapshots, @journeys, @merged)
                    as u(id, tenant, expected, version, score, predicted, contacts, channels, drivers, event, snapshot, journey, merged)
                on conflict (customer_id) do nothing
                """);
            batch.BatchCommands.Add(insert);
        }
        if (updated.Count > 0)
        {
            update = CustomerRows(updated, """
                update customer_effort c set score = u.score, predicted = u.predicted, contacts_in_window = u.contacts,
                    channels_in_window = u.channels, drivers = u.drivers::jsonb, contact_event_id = coalesce(u.event, c.contact_event_id),
                    version = u.version, snapshot = u.snapshot::jsonb, journey_id = u.journey, merged_into = u.merged, scored_at = now()
                from unnest(@ids, @tenants, @expected, @versions, @scores, @predicted, @contacts, @channels, @drivers, @events, @snapshots, @journeys, @merged)
                    as u(id, tenant, expected, version, score, predicted, contacts, channels, drivers, event, snapshot, journey, merged)
                where c.customer_id = u.id and c.version = u.expected
                """);
            batch.BatchCommands.Add(update);
        }
        AddBatchJourneys(batch, decision.Customers);
        await batch.ExecuteNonQueryAsync(ct);
        if (insert is not null && insert.RecordsAffected != created.Count || update is not null && update.RecordsAffected != updated.Count)
        {
            // Another writer saved one of these customers first: the batch is decided again (item by item) on fresh state.
            var first = (insert is not null && insert.RecordsAffected != created.Count ? created : updated)[0];
            throw new ConcurrencyException(first.CustomerId, first.ExpectedVersion ?? 0, null);
        }
    }

    private static NpgsqlBatchCommand CustomerRows(IReadOnlyList<CustomerWrite> rows, string sql)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        var worst = rows.Select(r => r.Evaluation?.Worst).ToArray();
        cmd.Parameters.AddWithValue("ids", rows.Select(r => r.CustomerId).ToArray());
        cmd.Parameters.AddWithValue("tenants", rows.Select(r => r.TenantId).ToArray());
        cmd.Parameters.AddWithValue("expected", rows.Select(r => r.ExpectedVersion ?? 0).ToArray());
        cmd.Parameters.AddWithValue("versions", rows.Select(r => r.Version).ToArray());
        cmd.Parameters.AddWithValue("scores", rows.Select(r => r.Evaluation?.Score ?? 0).ToArray());
        cmd.Parameters.AddWithValue("predicted", worst.Select(w => w?.Score.Predicted ?? 0).ToArray());
        cmd.Parameters.AddWithValue("contacts", worst.Select(w => w?.Journey.Interactions.Count() ?? 0).ToArray());
        cmd.Parameters.AddWithValue("channels", worst.Select(w => w?.Journey.Channels.Count ?? 0).ToArray());
        cmd.Parameters.AddWithValue("drivers", worst.Select(w => JsonSerializer.Serialize(w?.Score.Drivers ?? [], Json)).ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("events", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = rows.Select(r => r.LastEventId).ToArray() });
        cmd.Parameters.AddWithValue("snapshots", rows.Select(r => JsonSerializer.Serialize(r.Retained, Json)).ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("journeys", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = worst.Select(w => w?.Journey.Id).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter("merged", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = rows.Select(r => r.MergedInto).ToArray() });
        return cmd;
    }

    /// <summary>
    /// Every journey of the scored customers in one statement, after forgetting in one other their renamed open journeys
    /// (as <see cref="AddJourneys"/> does for one) and all journeys of the customers merged away.
    /// </summary>
    private static void AddBatchJourneys(NpgsqlBatch batch, IReadOnlyList<CustomerWrite> customers)
    {
        var scored = customers.Where(c => c.Evaluation is not null).ToList();
        var journeys = scored.SelectMany(c => c.Evaluation!.Journeys.Select(j => (c.CustomerId, c.TenantId, j))).ToList();
        var forget = new NpgsqlBatchCommand("""
            delete from journeys j where j.customer_id = any(@merged)
                or (j.customer_id = any(@scored) and j.status = 'open'
                    and not exists (select 1 from unnest(@kc, @kj) as k(customer, journey) where k.customer = j.customer_id and k.journey = j.journey_id))
            """);
        forget.Parameters.AddWithValue("merged", customers.Where(c => c.Evaluation is null).Select(c => c.CustomerId).ToArray());
        forget.Parameters.AddWithValue("scored", scored.Select(c => c.CustomerId).ToArray());
        forget.Parameters.AddWithValue("kc", journeys.Select(j => j.CustomerId).ToArray());
        forget.Parameters.AddWithValue("kj", journeys.Select(j => j.j.Journey.Id).ToArray());
        batch.BatchCommands.Add(forget);
        if (journeys.Count == 0)
        {
            return;
        }
        var upsert = new NpgsqlBatchCommand("""
            insert into journeys (customer_id, journey_id, tenant_id, topic, status, opened_at, last_at, score, predicted, ces_score)
            select * from unnest(@c, @j, @t, @topic, @status, @opened, @last, @score, @predicted, @ces)
            on conflict (customer_id, journey_id) do update set topic = excluded.topic, status = excluded.status,
                opened_at = excluded.opened_at, last_at = excluded.last_at, score = excluded.score,
                predicted = excluded.predicted, ces_score = excluded.ces_score
            """);
        upsert.Parameters.AddWithValue("c", journeys.Select(j => j.CustomerId).ToArray());
        upsert.Parameters.AddWithValue("j", journeys.Select(j => j.j.Journey.Id).ToArray());
        upsert.Parameters.AddWithValue("t", journeys.Select(j => j.TenantId).ToArray());
        upsert.Parameters.Add(new NpgsqlParameter("topic", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = journeys.Select(j => j.j.Journey.Topic).ToArray() });
        upsert.Parameters.AddWithValue("status", journeys.Select(j => j.j.Status).ToArray());
        upsert.Parameters.AddWithValue("opened", journeys.Select(j => j.j.Journey.OpenedAt).ToArray());
        upsert.Parameters.AddWithValue("last", journeys.Select(j => j.j.Journey.LastAt).ToArray());
        upsert.Parameters.AddWithValue("score", journeys.Select(j => j.j.Score.Score).ToArray());
        upsert.Parameters.AddWithValue("predicted", journeys.Select(j => j.j.Score.Predicted).ToArray());
        upsert.Parameters.Add(new NpgsqlParameter("ces", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = journeys.Select(j => j.j.Score.CesScore).ToArray() });
        batch.BatchCommands.Add(upsert);
    }

    /// <summary>
    /// Each customer's history (<see cref="ContactStream.History"/>): the contacts of its stream and of the streams of the
    /// customers merged into it, down chains, in one round trip for all; empty for a customer merged into another.
    /// </summary>
    public static async Task<Dictionary<Guid, List<ContactEvent>>> Histories(NpgsqlConnection connection, NpgsqlTransaction? tx,
        IReadOnlyList<(string Tenant, Guid Id)> customers, CancellationToken ct)
    {
        var streams = await Streams(connection, tx, customers, survivorsOnly: true, ct);
        return customers.Select(c => c.Id).Distinct()
            .ToDictionary(id => id, id => ContactStream.History(streams.TryGetValue(id, out var found) ? found.Values.Select(s => s.Events) : []));
    }

    /// <summary>A stream as read: its version and the events a history is folded from, in order.</summary>
    public sealed record StreamRead(long Version, List<object> Events);

    /// <summary>
    /// The streams under each customer (its own and those of the customers merged into it, down chains), each with its
    /// version and the events a history is folded from, all read in one statement (so the versions are those of the
    /// events read); with survivorsOnly, none under a customer merged into another.
    /// </summary>
    public static async Task<Dictionary<Guid, Dictionary<Guid, StreamRead>>> Streams(NpgsqlConnection connection, NpgsqlTransaction? tx,
        IReadOnlyList<(string Tenant, Guid Id)> customers, bool survivorsOnly, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            with recursive tree(tenant, root, id) as (
                select r.tenant, r.id, r.id from unnest(@tenants, @ids) as r(tenant, id)
                where not @survivors or not exists (select 1 from customer_effort c where c.customer_id = r.id and c.merged_into is not null)
                union
                select t.tenant, t.root, c.customer_id from tree t join customer_effort c on c.merged_into = t.id and c.tenant_id = t.tenant)
            select t.root, s.id, s.version, e.type, e.data from tree t
            join mt_streams s on s.tenant_id = t.tenant and s.id = t.id
            left join mt_events e on e.tenant_id = s.tenant_id and e.stream_id = s.id and e.type = any(@types)
            order by t.root, s.id, e.version
            """, connection, tx);
        cmd.Parameters.AddWithValue("tenants", customers.Select(c => c.Tenant).ToArray());
        cmd.Parameters.AddWithValue("ids", customers.Select(c => c.Id).ToArray());
        cmd.Parameters.AddWithValue("survivors", survivorsOnly);
        cmd.Parameters.AddWithValue("types", ContactStream.Folded.Keys.ToArray());
        var found = new Dictionary<Guid, Dictionary<Guid, StreamRead>>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var (root, stream) = (reader.GetGuid(0), reader.GetGuid(1));
            var streams = found.TryGetValue(root, out var known) ? known : found[root] = [];
            var read = streams.TryGetValue(stream, out var seen) ? seen : streams[stream] = new StreamRead(reader.GetInt64(2), []);
            if (!reader.IsDBNull(3))
            {
                read.Events.Add(JsonSerializer.Deserialize(reader.GetString(4), ContactStream.Folded[reader.GetString(3)], Json)!);
            }
        }
        return found;
    }

    /// <summary>
    /// Saves the snapshot at expectedVersion + 1 with the customer's score (its worst open journey's) and returns that version
    /// with the customers merged into this one (down chains); throws ConcurrencyException when another writer saved first.
    /// Journeys are written whole (allJourneys) after a replay, otherwise only those the snapshot holds. The whole save is
    /// one round trip.
    /// </summary>
    public static async Task<Saved> Save(Session session, string tenantId, Guid customerId, long? expectedVersion, CustomerEvaluation evaluation,
        IReadOnlyList<ContactEvent> retained, Guid? lastEventId, bool allJourneys, CancellationToken ct)
    {
        var worst = evaluation.Worst;
        var version = (expectedVersion ?? 0) + 1;
        await using var batch = new NpgsqlBatch(session.Connection, session.Transaction);
        var save = new NpgsqlBatchCommand(expectedVersion is null
            ? """
              insert into customer_effort (customer_id, tenant_id, score, predicted, contacts_in_window, channels_in_window, drivers,
                  contact_event_id, version, snapshot, journey_id)
              values (@id, @tenant, @score, @predicted, @contacts, @channels, @drivers, @event, @version, @snapshot, @journey)
              on conflict (customer_id) do nothing
              """
            : """
              update customer_effort set score = @score, predicted = @predicted, contacts_in_window = @contacts, channels_in_window = @channels,
                  drivers = @drivers, contact_event_id = coalesce(@event, contact_event_id), version = @version, snapshot = @snapshot,
                  journey_id = @journey, merged_into = null, scored_at = now()
              where customer_id = @id and version = @expected
              """);
        save.Parameters.AddWithValue("id", customerId);
        save.Parameters.AddWithValue("tenant", tenantId);
        save.Parameters.AddWithValue("score", evaluation.Score);
        save.Parameters.AddWithValue("predicted", worst?.Score.Predicted ?? 0);
        save.Parameters.AddWithValue("contacts", worst?.Journey.Interactions.Count() ?? 0);
        save.Parameters.AddWithValue("channels", worst?.Journey.Channels.Count ?? 0);
        save.Parameters.AddWithValue("drivers", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(worst?.Score.Drivers ?? [], Json));
        save.Parameters.Add(new NpgsqlParameter("event", NpgsqlDbType.Uuid) { Value = (object?)lastEventId ?? DBNull.Value });
        save.Parameters.AddWithValue("version", version);
        save.Parameters.AddWithValue("expected", expectedVersion ?? 0);
        save.Parameters.AddWithValue("snapshot", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(retained, Json));
        save.Parameters.Add(new NpgsqlParameter("journey", NpgsqlDbType.Uuid) { Value = (object?)worst?.Journey.Id ?? DBNull.Value });
        batch.BatchCommands.Add(save);
        batch.BatchCommands.Add(WatchCommand([tenantId], [customerId]));
        AddJourneys(batch, tenantId, customerId, evaluation, allJourneys);

        // Everything after a lost version race runs too, in the same transaction, and is rolled back with it.
        var merged = new List<Guid>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            do
            {
                while (await reader.ReadAsync(ct))
                {
                    merged.Add(reader.GetGuid(0));
                }
            }
            while (await reader.NextResultAsync(ct));
        }
        if (save.RecordsAffected == 0)
        {
            throw new ConcurrencyException(customerId, expectedVersion ?? 0, null);
        }
        return new Saved(version, merged);
    }

    /// <summary>
    /// Puts customers whose contacts changed in front of the moment watch (Moments/MomentWatch.cs), due now: their moments
    /// and loyalty account are looked at again, off the scoring path.
    /// </summary>
    public static NpgsqlBatchCommand WatchCommand(string[] tenants, Guid[] customers)
    {
        var watch = new NpgsqlBatchCommand("""
            insert into moment_watch (tenant_id, customer_id, due_at)
            select distinct on (c) t, c, now() from unnest(@wt, @wc) as w(t, c)
            on conflict (customer_id) do update set due_at = least(moment_watch.due_at, excluded.due_at)
            """);
        watch.Parameters.AddWithValue("wt", tenants);
        watch.Parameters.AddWithValue("wc", customers);
        return watch;
    }

    /// <summary>A saved snapshot's version and the customers merged into it.</summary>
    public sealed record Saved(long Version, IReadOnlyList<Guid> MergedCustomerIds);

    /// <summary>The journeys' rows, then the customers merged into this one down chains (the batch's only rows).</summary>
    private static void AddJourneys(NpgsqlBatch batch, string tenantId, Guid customerId, CustomerEvaluation evaluation, bool all)
    {
        // A journey leaves the snapshot only once closed, and it was written closed on that last save: what is still
        // 'open' here and not in this evaluation is a journey that was renamed (an earlier contact arrived late).
        var forget = new NpgsqlBatchCommand(all
            ? "delete from journeys where customer_id = @c"
            : "delete from journeys where customer_id = @c and status = 'open' and not (journey_id = any(@ids))");
        forget.Parameters.AddWithValue("c", customerId);
        forget.Parameters.AddWithValue("ids", evaluation.Journeys.Select(j => j.Journey.Id).ToArray());
        batch.BatchCommands.Add(forget);
        foreach (var j in evaluation.Journeys)
        {
            var cmd = new NpgsqlBatchCommand("""
                insert into journeys (customer_id, journey_id, tenant_id, topic, status, opened_at, last_at, score, predicted, ces_score)
                values (@c, @j, @t, @topic, @status, @opened, @last, @score, @predicted, @ces)
                on conflict (customer_id, journey_id) do update set topic = excluded.topic, status = excluded.status,
                    opened_at = excluded.opened_at, last_at = excluded.last_at, score = excluded.score,
                    predicted = excluded.predicted, ces_score = excluded.ces_score
                """);
            cmd.Parameters.AddWithValue("c", customerId);
            cmd.Parameters.AddWithValue("j", j.Journey.Id);
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.Add(new NpgsqlParameter("topic", NpgsqlDbType.Text) { Value = (object?)j.Journey.Topic ?? DBNull.Value });
            cmd.Parameters.AddWithValue("status", j.Status);
            cmd.Parameters.AddWithValue("opened", j.Journey.OpenedAt);
            cmd.Parameters.AddWithValue("last", j.Journey.LastAt);
            cmd.Parameters.AddWithValue("score", j.Score.Score);
            cmd.Parameters.AddWithValue("predicted", j.Score.Predicted);
            cmd.Parameters.Add(new NpgsqlParameter("ces", NpgsqlDbType.Integer) { Value = (object?)j.Score.CesScore ?? DBNull.Value });
            batch.BatchCommands.Add(cmd);
        }
        var absorbed = new NpgsqlBatchCommand("""
            with recursive absorbed(id) as (
                select customer_id from customer_effort where merged_into = @c
                union
                select e.customer_id from customer_effort e join absorbed a on e.merged_into = a.id)
            select id from absorbed
            """);
        absorbed.Parameters.AddWithValue("c", customerId);
        batch.BatchCommands.Add(absorbed);
    }

    public static EffortScored Scored(string tenantId, Guid customerId, Guid contactEventId, Saved saved, CustomerEvaluation evaluation)
    {
        var version = saved.Version;
        var worst = evaluation.Worst;
        var scored = new EffortScored(Guid.CreateVersion7(), tenantId, customerId, contactEventId, evaluation.Score,
            worst?.Journey.Interactions.Count() ?? 0, worst?.Journey.Channels.Count ?? 0, worst?.Score.Drivers ?? [],
            worst?.Journey.OpenedAt ?? evaluation.AsOf, worst?.Journey.LastAt ?? evaluation.AsOf, version,
            worst?.Journey.Id, worst?.Journey.Topic, worst?.Journey.Channels ?? [], saved.MergedCustomerIds);
        return scored;
    }

    /// <summary>
    /// Re-scores a customer from its history (every contact it holds, after new settings or a split; null: read it now),
    /// saves the snapshot at the next version and publishes the new score. Returns false for a customer that has no state
    /// here. After a split the score carries the split it follows, so a consumer the score reaches before the split
    /// itself can apply the split first.
    /// </summary>
    public static async Task<bool> Rebuild(Session session, string tenantId, Guid customerId, EffortSettings settings, CancellationToken ct,
        CustomerSplit? split = null, IReadOnlyList<ContactEvent>? history = null)
    {
        var current = await Load(session, tenantId, customerId, ct);
        if (current?.MergedInto is not null)
        {
            return false;
        }
        var events = history ?? (await Histories(session.Connection, session.Transaction, [(tenantId, customerId)], ct))[customerId];
        if (current is null && events.Count == 0)
        {
            return false;
        }
        var evaluation = CustomerEffort.Evaluate(events, settings, CustomerEffort.LatestOf(events));
        var lastEvent = events.MaxBy(e => (e.OccurredAt, e.EventId))?.EventId;
        var saved = await Save(session, tenantId, customerId, current?.Version, evaluation, CustomerEffort.Retain(evaluation), lastEvent, true, ct);
        var scored = Scored(tenantId, customerId, lastEvent ?? Guid.Empty, saved, evaluation) with { Split = split };
        session.Publish(scored, scored.Id);
        return true;
    }

    /// <summary>The tenant's settings changes, oldest first (empty while the defaults apply).</summary>
    public static async Task<IReadOnlyList<MomentSettingsSince>> MomentSettingsHistory(NpgsqlConnection connection, string tenant, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("select effective_from, settings from moment_settings where tenant_id = @t order by effective_from", connection);
        cmd.Parameters.AddWithValue("t", tenant);
        var history = new List<MomentSettingsSince>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            history.Add(new MomentSettingsSince(reader.GetFieldValue<DateTimeOffset>(0), JsonSerializer.Deserialize<MomentSettings>(reader.GetString(1), EffortStore.Json)!));
        }
        return history;
    }
}
