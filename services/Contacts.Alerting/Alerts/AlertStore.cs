using System.Text.Json;
using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Persistence;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// The thin shell around AlertDecision: locks the customers a message touches (transaction-scoped advisory locks, taken
/// in sorted order), loads their state, and stores what the decision returns, in the consumer's transaction.
/// </summary>
public static class AlertStore
{
    /// <summary>Serialises every decision about these customers across instances until the transaction ends.</summary>
    public static async Task Lock(Session session, string tenantId, IEnumerable<Guid> customerIds, CancellationToken ct) =>
        await LockAndLoad(session, tenantId, customerIds, [], ct);

    /// <summary>
    /// Takes the customers' locks (one statement, in sorted order, so no deadlock) and then reads the state of each of
    /// loadIds, all in one round trip: the reads run after the locks are held, each on a fresh snapshot.
    /// </summary>
    public static async Task<IReadOnlyList<CustomerAlertState>> LockAndLoad(Session session, string tenantId, IEnumerable<Guid> lockIds,
        IReadOnlyList<Guid> loadIds, CancellationToken ct) =>
        (await LockLoadAndRead(session, tenantId, lockIds, loadIds, null, ct)).States;

    /// <summary>LockAndLoad that also reads the tenant's alert rules, in the same round trip.</summary>
    public static async Task<(IReadOnlyList<CustomerAlertState> States, AlertingSettings Rules)> LockAndLoad(Session session, string tenantId,
        IEnumerable<Guid> lockIds, IReadOnlyList<Guid> loadIds, AlertingSettingsStore rules, CancellationToken ct)
    {
        var (states, settings) = await LockLoadAndRead(session, tenantId, lockIds, loadIds, rules, ct);
        return (states, settings!);
    }

    private static async Task<(IReadOnlyList<CustomerAlertState> States, AlertingSettings? Rules)> LockLoadAndRead(Session session, string tenantId,
        IEnumerable<Guid> lockIds, IReadOnlyList<Guid> loadIds, AlertingSettingsStore? rules, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(session.Connection, session.Transaction);
        var keys = lockIds.Distinct().Order().Select(id => $"alerting\n{tenantId}\n{id}").ToArray();
        if (keys.Length > 0)
        {
            // unnest yields the keys in array order, which is sorted, so every transaction locks in the same order.
            var locks = new NpgsqlBatchCommand("select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(@keys) as t(k)");
            locks.Parameters.AddWithValue("keys", keys);
            batch.BatchCommands.Add(locks);
        }
        if (rules is not null)
        {
            batch.BatchCommands.Add(AlertingSettingsStore.Query(tenantId));
        }
        Guid[] ids = [.. loadIds.Distinct()];
        if (ids.Length > 0)
        {
            foreach (var sql in StateQueries)
            {
                var cmd = new NpgsqlBatchCommand(sql);
                cmd.Parameters.AddWithValue("tenant", tenantId);
                cmd.Parameters.AddWithValue("customers", ids);
                batch.BatchCommands.Add(cmd);
            }
        }
        await using var reader = await batch.ExecuteReaderAsync(ct);
        if (keys.Length > 0)
        {
            await reader.NextResultAsync(ct);
        }
        AlertingSettings? settings = null;
        if (rules is not null)
        {
            settings = rules.From(await reader.ReadAsync(ct) ? reader.GetValue(0) : null);
            await reader.NextResultAsync(ct);
        }
        var states = ids.Length > 0 ? await ReadStates(reader, ids, ct) : [];
        return ([.. loadIds.Select(id => states[id])], settings);
    }

    /// <summary>Of the customers a score says were merged into its customer, those not recorded here as merged into anyone.</summary>
    public static async Task<IReadOnlyList<Guid>> NotYetMerged(Session session, string tenantId, Guid customerId, IReadOnlyList<Guid> mergedIds,
        CancellationToken ct)
    {
        var candidates = mergedIds.Where(id => id != customerId).Distinct().ToArray();
        if (candidates.Length == 0)
        {
            return [];
        }
        await using var cmd = session.Command("""
            select id from unnest(@ids) as id
            where not exists (select 1 from customer_alert_state s where s.tenant_id = @tenant and s.customer_id = id and s.merged_into is not null)
            """);
        cmd.Parameters.AddWithValue("ids", candidates);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        var unmerged = new List<Guid>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            unmerged.Add(reader.GetGuid(0));
        }
        return unmerged;
    }

    public static async Task<CustomerAlertState> Load(Session session, string tenantId, Guid customerId, CancellationToken ct) =>
        (await LockAndLoad(session, tenantId, [], [customerId], ct))[0];

    /// <summary>
    /// The state of a set of customers, one statement each for all of them: their rows, their open alerts, and the latest
    /// resolution per reason down each one's chains of merges.
    /// </summary>
    private static readonly string[] StateQueries =
    [
        """
        select customer_id, score_version, score, merged_into, erased, held_score::text, split_from
        from customer_alert_state where tenant_id = @tenant and customer_id = any(@customers)
        """,
        """
        select customer_id, id, reason, score, raised_at, contact_event_id, status, level, journey_id, journey_last_at from alerts
        where tenant_id = @tenant and customer_id = any(@customers) and status in ('open', 'acknowledged') order by raised_at, id
        """,
        // Each customer's own resolved alerts and those of the customers merged into it, down every chain of merges. Looked
        // up part by part (lateral, kept from being flattened by offset 0): as a semi-join, the generic plan of the prepared
        // statement read every resolved alert of the tenant; and as a join, each step hashed every merged customer of the
        // tenant (2.8 ms a call at 18,000 contacts, growing with the store).
        """
        with recursive parts as (
            select root, root as customer_id, 0 as depth from unnest(@customers) as root
            union all
            select parts.root, s.customer_id, parts.depth + 1 from parts
            cross join lateral (select customer_id from customer_alert_state
                                where tenant_id = @tenant and merged_into = parts.customer_id offset 0) s
            where parts.depth < 100)
        select parts.root, a.reason, max(a.closed_at) from parts
        cross join lateral (select reason, closed_at from alerts
                            where tenant_id = @tenant and customer_id = parts.customer_id and status = 'resolved' offset 0) a
        group by parts.root, a.reason
        """,
    ];

    /// <summary>Reads the three results of StateQueries and moves the reader past them; a customer without a row is unknown.</summary>
    private static async Task<Dictionary<Guid, CustomerAlertState>> ReadStates(NpgsqlDataReader reader, IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        var states = ids.ToDictionary(id => id, CustomerAlertState.Unknown);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetGuid(0);
            states[id] = states[id] with
            {
                ScoreVersion = reader.IsDBNull(1) ? null : reader.GetInt64(1),
                Score = reader.IsDBNull(2) ? null : reader.GetInt32(2),
                MergedInto = reader.IsDBNull(3) ? null : reader.GetGuid(3),
                Erased = reader.GetBoolean(4),
                HeldScore = reader.IsDBNull(5) ? null : JsonSerializer.Deserialize<EffortScored>(reader.GetString(5), JsonSerializerOptions.Web),
                SplitFrom = reader.GetFieldValue<Guid[]>(6),
            };
        }
        await reader.NextResultAsync(ct);
        var open = ids.ToDictionary(id => id, _ => new List<OpenAlert>());
        while (await reader.ReadAsync(ct))
        {
            open[reader.GetGuid(0)].Add(new OpenAlert(reader.GetGuid(1), reader.GetString(2), reader.GetInt32(3), reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetGuid(5), reader.GetString(6), reader.GetInt32(7), reader.IsDBNull(8) ? null : reader.GetGuid(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9)));
        }
        await reader.NextResultAsync(ct);
        var lastResolved = ids.ToDictionary(id => id, _ => new Dictionary<string, DateTimeOffset>());
        while (await reader.ReadAsync(ct))
        {
            lastResolved[reader.GetGuid(0)][reader.GetString(1)] = reader.GetFieldValue<DateTimeOffset>(2);
        }
        await reader.NextResultAsync(ct);
        return ids.ToDictionary(id => id, id => states[id] with { OpenAlerts = open[id], SplitFrom = states[id].SplitFrom ?? [], LastResolved = lastResolved[id] });
    }

    /// <summary>Where a customer's merges lead: itself, or the last survivor of its merge chain (read without locks; callers lock and re-check).</summary>
    public static async Task<Guid> LastSurvivor(Session session, string tenantId, Guid customerId, CancellationToken ct) =>
        (await LastSurvivors(session, tenantId, [customerId], ct))[customerId];

    /// <summary>
    /// The customers' own rows as a batch of decisions left them (score, merge, held score), one statement for all of them.
    /// The caller holds their locks and loaded each row in the same transaction, so writing the whole row loses nothing.
    /// </summary>
    public static async Task SaveStates(Session session, string tenantId, IReadOnlyList<CustomerAlertState> states, CancellationToken ct)
    {
        if (states.Count == 0)
        {
            return;
        }
        await using var cmd = session.Command("""
            insert into customer_alert_state (tenant_id, customer_id, score_version, score, merged_into, held_score)
            select @tenant, c, v, s, m, h::jsonb from unnest(@customers, @versions, @scores, @merged, @held) as t(c, v, s, m, h)
            on conflict (tenant_id, customer_id) do update set score_version = excluded.score_version, score = excluded.score,
                merged_into = excluded.merged_into, held_score = excluded.held_score, updated_at = now()
            """);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        cmd.Parameters.AddWithValue("customers", states.Select(s => s.CustomerId).ToArray());
        cmd.Parameters.AddWithValue("versions", NpgsqlDbType.Array | NpgsqlDbType.Bigint, states.Select(s => s.ScoreVersion).ToArray());
        cmd.Parameters.AddWithValue("scores", NpgsqlDbType.Array | NpgsqlDbType.Integer, states.Select(s => s.Score).ToArray());
        cmd.Parameters.AddWithValue("merged", NpgsqlDbType.Array | NpgsqlDbType.Uuid, states.Select(s => s.MergedInto).ToArray());
        cmd.Parameters.AddWithValue("held", NpgsqlDbType.Array | NpgsqlDbType.Text,
            states.Select(s => s.HeldScore is { } held ? JsonSerializer.Serialize(held, JsonSerializerOptions.Web) : null).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Where each customer's merges lead (itself when it was not merged), in one statement; read without locks: callers
    /// lock and re-check. A chain of 100 merges or more is refused as too long.
    /// </summary>
    public static async Task<IReadOnlyDictionary<Guid, Guid>> LastSurvivors(Session session, string tenantId, IReadOnlyList<Guid> customerIds,
        CancellationToken ct)
    {
        var rows = await session.Query<SurvivorRow>("""
            with recursive chain (start, id, depth) as (
                select c, c, 0 from unnest(@customers) as c
                union all
                select chain.start, s.merged_into, chain.depth + 1 from chain
                cross join lateral (select merged_into from customer_alert_state
                                    where tenant_id = @tenant and customer_id = chain.id and merged_into is not null offset 0) s
                where chain.depth < @maxHops)
            select distinct on (start) start, id as survivor, depth as hops from chain order by start, depth desc
            """, new { tenant = tenantId, customers = customerIds.Distinct().ToArray(), maxHops = MaxMergeHops }, ct);
        if (rows.FirstOrDefault(r => r.Hops >= MaxMergeHops) is { } endless)
        {
            throw new InvalidOperationException($"merge chain from {endless.Start} is too long");
        }
        return rows.ToDictionary(r => r.Start, r => r.Survivor);
    }

    private const int MaxMergeHops = 100;

    private sealed record SurvivorRow(Guid Start, Guid Survivor, int Hops);

    /// <summary>Stores the decision; every change of an alert is published and its webhook queued. Returns whether a webhook was queued.</summary>
    public static async Task<bool> Apply(Session session, string tenantId, IReadOnlyList<AlertDecisionEvent> events, WebhookOptions webhooks,
        CancellationToken ct)
    {
        var queued = false;
        foreach (var e in events)
        {
            switch (e)
            {
                case ScoreRecorded recorded:
                    await session.Execute("""
                        insert into customer_alert_state (tenant_id, customer_id, score_version, score) values (@tenant, @customer, @version, @score)
                        on conflict (tenant_id, customer_id) do update set score_version = excluded.score_version, score = excluded.score, updated_at = now()
                        """, new { tenant = tenantId, customer = recorded.CustomerId, version = recorded.Version, score = recorded.Score }, ct);
                    break;
                case CustomerMergedInto merged:
                    await session.Execute("""
                        insert into customer_alert_state (tenant_id, customer_id, merged_into) values (@tenant, @customer, @survivor)
                        on conflict (tenant_id, customer_id) do update set merged_into = excluded.merged_into, updated_at = now()
                        """, new { tenant = tenantId, customer = merged.CustomerId, survivor = merged.SurvivorId }, ct);
                    break;
                case AlertRaised raised:
                {
                    var score = raised.Score;
                    await using (var insert = session.Command("""
                        insert into alerts (id, tenant_id, customer_id, reason, score, drivers, contact_event_id, score_version, level, journey_id, topic, channels,
                            journey_last_at)
                        values (@id, @tenant, @customer, @reason, @score, @drivers, @event, @version, @level, @journey, @topic, @channels, @journeyLastAt)
                        """))
                    {
                        insert.Parameters.AddWithValue("id", raised.AlertId);
                        insert.Parameters.AddWithValue("tenant", tenantId);
                        insert.Parameters.AddWithValue("customer", raised.CustomerId);
                        insert.Parameters.AddWithValue("reason", raised.Reason);
                        insert.Parameters.AddWithValue("score", score.Score);
                        insert.Parameters.AddWithValue("drivers", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(score.Drivers, JsonSerializerOptions.Web));
                        insert.Parameters.AddWithValue("event", score.ContactEventId);
                        insert.Parameters.AddWithValue("version", score.Version);
                        insert.Parameters.AddWithValue("level", raised.Level);
                        AddJourney(insert, score);
                        await insert.ExecuteNonQueryAsync(ct);
                    }
                    var view = await AlertReads.Find(session, tenantId, raised.AlertId, ct);
                    var alert = new HighEffortAlertRaised(Guid.CreateVersion7(), tenantId, view.Id, view.CustomerId, view.Reason, view.Score, view.Drivers,
                        view.ContactEventId, view.RaisedAt, view.Level, view.JourneyId, view.Topic, view.Channels);
                    session.Publish(alert, alert.Id);
                    // The raised webhook's id is the alert id: stable, so a CRM de-duplicates a redelivery by it.
                    queued |= await WebhookQueue.Enqueue(session, tenantId, view.Id, view, AlertWebhookTypes.Raised, webhooks, ct);
                    break;
                }
                case OpenAlertRescored rescored:
                {
                    await using var update = session.Command("""
                        update alerts set score = @score, drivers = @drivers, score_version = @version, journey_id = @journey, topic = @topic,
                            channels = @channels, journey_last_at = @journeyLastAt, updated_at = now()
                        where id = @id
                        """);
                    update.Parameters.AddWithValue("id", rescored.AlertId);
                    update.Parameters.AddWithValue("score", rescored.Score.Score);
                    update.Parameters.AddWithValue("drivers", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(rescored.Score.Drivers, JsonSerializerOptions.Web));
                    update.Parameters.AddWithValue("version", rescored.Score.Version);
                    AddJourney(update, rescored.Score);
                    await update.ExecuteNonQueryAsync(ct);
                    break;
                }
                case Escalated escalated:
                {
                    await session.Execute("update alerts set level = @level, updated_at = now() where id = @id",
                        new { id = escalated.AlertId, level = escalated.Level }, ct);
                    var view = await AlertReads.Find(session, tenantId, escalated.AlertId, ct);
                    var change = new AlertEscalated(Guid.CreateVersion7(), tenantId, view.Id, view.CustomerId, view.Reason, view.Level, view.Score,
                        view.Drivers, view.UpdatedAt);
                    session.Publish(change, change.Id);
                    queued |= await WebhookQueue.Enqueue(session, tenantId, change.Id, view, AlertWebhookTypes.Escalated, webhooks, ct);
                    break;
                }
                case Acknowledged acknowledged:
                {
                    await session.Execute("""
                        update alerts set status = 'acknowledged', acknowledged_at = now(), updated_at = now() where id = @id
                        """, new { id = acknowledged.AlertId }, ct);
                    var view = await AlertReads.Find(session, tenantId, acknowledged.AlertId, ct);
                    var change = new AlertAcknowledged(Guid.CreateVersion7(), tenantId, view.Id, view.CustomerId, view.Reason, view.AcknowledgedAt ?? view.UpdatedAt);
                    session.Publish(change, change.Id);
                    queued |= await WebhookQueue.Enqueue(session, tenantId, change.Id, view, AlertWebhookTypes.Acknowledged, webhooks, ct);
                    break;
                }
                case Resolved resolved:
                {
                    await session.Execute("""
                        update alerts set status = 'resolved', resolution = @resolution, closed_at = now(), updated_at = now() where id = @id
                        """, new { id = resolved.AlertId, resolution = resolved.Resolution }, ct);
                    queued |= await NotifyResolved(session, tenantId, resolved.AlertId, webhooks, ct);
                    break;
                }
                case AlertMergedInto closed:
                    await session.Execute("""
                        update alerts set status = 'merged', resolution = 'merged', superseded_by = @kept, closed_at = now(), updated_at = now() where id = @id
                        """, new { id = closed.AlertId, kept = closed.SurvivorAlertId }, ct);
                    // The CRM is told which alert carries this one on.
                    queued |= await NotifyResolved(session, tenantId, closed.AlertId, webhooks, ct);
                    break;
                case ScoreHeld held:
                    await session.Execute("""
                        insert into customer_alert_state (tenant_id, customer_id, held_score) values (@tenant, @customer, @score::jsonb)
                        on conflict (tenant_id, customer_id) do update set held_score = excluded.held_score, updated_at = now()
                        """, new { tenant = tenantId, customer = held.CustomerId, score = JsonSerializer.Serialize(held.Score, JsonSerializerOptions.Web) }, ct);
                    break;
                case CustomerRestored restored:
                    await session.Execute("""
                        insert into customer_alert_state (tenant_id, customer_id, split_from) values (@tenant, @customer, array[@from])
                        on conflict (tenant_id, customer_id) do update set merged_into = null, held_score = null,
                            split_from = array_append(customer_alert_state.split_from, @from), updated_at = now()
                        """, new { tenant = tenantId, customer = restored.RestoredId, from = restored.SplitFromId }, ct);
                    break;
                case AlertMoved moved:
                    await session.Execute("update alerts set customer_id = @to, updated_at = now() where id = @id",
                        new { id = moved.AlertId, to = moved.ToCustomerId }, ct);
                    break;
                default:
                    throw new InvalidOperationException($"no storage for {e.GetType().Name}");
            }
        }
        return queued;
    }

    /// <summary>
    /// Forgets customers (right to erasure): their alerts, and any alert raised by one of the erased contact events, with
    /// their webhook deliveries (bodies and attempts); each customer stays only as a bare id marked erased, so a late score
    /// for it changes nothing. Alerts of other customers that named an erased one as superseding them keep no link to it.
    /// </summary>
    public static async Task Erase(Session session, string tenantId, IReadOnlyList<Guid> customerIds, IReadOnlyList<Guid> contactEventIds, CancellationToken ct)
    {
        await using var cmd = session.Command("""
            delete from webhook_deliveries where alert_id in (
                select id from alerts where tenant_id = @tenant and (customer_id = any(@customers) or contact_event_id = any(@events)));
            delete from webhook_deliveries where customer_id = any(@customers);
            update alerts set superseded_by = null where superseded_by in (
                select id from alerts where tenant_id = @tenant and (customer_id = any(@customers) or contact_event_id = any(@events)));
            delete from alerts where tenant_id = @tenant and (customer_id = any(@customers) or contact_event_id = any(@events));
            insert into customer_alert_state (tenant_id, customer_id, erased) select @tenant, unnest(@customers), true
            on conflict (tenant_id, customer_id) do update set erased = true, score = null, score_version = null, merged_into = null,
                held_score = null, split_from = '{}', updated_at = now();
            """);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        cmd.Parameters.AddWithValue("customers", customerIds.Distinct().ToArray());
        cmd.Parameters.AddWithValue("events", contactEventIds.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<bool> NotifyResolved(Session session, string tenantId, Guid alertId, WebhookOptions webhooks, CancellationToken ct)
    {
        var view = await AlertReads.Find(session, tenantId, alertId, ct);
        var change = new AlertResolved(Guid.CreateVersion7(), tenantId, view.Id, view.CustomerId, view.Reason, view.Resolution ?? Resolutions.Manual,
            view.SupersededBy, view.ClosedAt ?? view.UpdatedAt);
        session.Publish(change, change.Id);
        return await WebhookQueue.Enqueue(session, tenantId, change.Id, view, AlertWebhookTypes.Resolved, webhooks, ct);
    }

    private static void AddJourney(NpgsqlCommand cmd, EffortScored score)
    {
        cmd.Parameters.Add(new NpgsqlParameter("journey", NpgsqlDbType.Uuid) { Value = (object?)score.JourneyId ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("topic", NpgsqlDbType.Text) { Value = (object?)score.Topic ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("channels", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = (object?)score.Channels?.ToArray() ?? DBNull.Value });
        cmd.Parameters.AddWithValue("journeyLastAt", score.WindowEnd);
    }

    /// <summary>A merge found its survivor merged away in the meantime: retry, following the chain again.</summary>
    public static Exception SurvivorMoved(Guid survivorId) => new ConcurrencyException(survivorId, 0, null);
}
