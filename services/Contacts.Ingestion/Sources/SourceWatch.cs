using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Ingestion.Sources;

/// <summary>
/// Writes the counts gathered in memory and watches each tenant's sources: a source that was sending and has been quiet for
/// longer than the tenant's gap becomes silent, and one that sends again recovers; each change is published once (it is
/// made by a row update that only one instance can win) in the same transaction, for alerting to tell subscribers.
/// </summary>
internal sealed partial class SourceWatch(Database database, SourceActivity activity, IOptions<SourceOptions> options, MigrationState migrations,
    ILogger<SourceWatch> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(options.Value.FlushInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var counts = activity.Take();
            try
            {
                await database.InTransaction(async session =>
                {
                    await Write(session, counts, options.Value.SilentAfter, stoppingToken);
                    await FindSilent(session, stoppingToken);
                }, stoppingToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                activity.Restore(counts);
                LogPassFailed(logger, ex.Message);
            }
        }
    }

    /// <summary>The counts added to each hour, each source's last event and refusal; a silent source that sent again recovers.</summary>
    private static async Task Write(Session session, IReadOnlyList<SourceCount> counts, TimeSpan defaultGap, CancellationToken ct)
    {
        if (counts.Count == 0)
        {
            return;
        }
        await using (var hours = session.Command("""
            insert into source_hours (tenant_id, source, hour, accepted, refused)
            select * from unnest(@tenants, @sources, @hours, @accepted, @refused)
            on conflict (tenant_id, source, hour) do update
                set accepted = source_hours.accepted + excluded.accepted, refused = source_hours.refused + excluded.refused
            """))
        {
            hours.Parameters.AddWithValue("tenants", counts.Select(c => c.Tenant).ToArray());
            hours.Parameters.AddWithValue("sources", counts.Select(c => c.Source).ToArray());
            hours.Parameters.AddWithValue("hours", counts.Select(c => c.Hour).ToArray());
            hours.Parameters.AddWithValue("accepted", counts.Select(c => c.Accepted).ToArray());
            hours.Parameters.AddWithValue("refused", counts.Select(c => c.Refused).ToArray());
            await hours.ExecuteNonQueryAsync(ct);
        }
        var sources = counts.GroupBy(c => (c.Tenant, c.Source)).Select(g => (g.Key.Tenant, g.Key.Source,
            LastEvent: g.Max(c => c.LastEventAt), LastRefused: g.Max(c => c.LastRefusedAt))).ToList();
        // A silent source that sent again recovers: the update re-checks silent under its row lock, so one instance wins it.
        await using (var recovered = session.Command("""
            update source_state s set silent = false, silent_since = null
            from unnest(@tenants, @sources) as sent(tenant_id, source) left join source_settings t on t.tenant_id = sent.tenant_id
            where s.tenant_id = sent.tenant_id and s.source = sent.source and s.silent
            returning s.tenant_id, s.source, s.last_event_at, coalesce(t.silent_after_seconds, @default)
            """))
        {
            var sent = sources.Where(s => s.LastEvent is not null).ToList();
            recovered.Parameters.AddWithValue("tenants", sent.Select(s => s.Tenant).ToArray());
            recovered.Parameters.AddWithValue("sources", sent.Select(s => s.Source).ToArray());
            recovered.Parameters.AddWithValue("default", (int)defaultGap.TotalSeconds);
            await Publish(session, recovered, silent: false, ct);
        }
        await using var state = session.Command("""
            insert into source_state (tenant_id, source, last_event_at, last_refused_at)
            select * from unnest(@tenants, @sources, @events, @refusals)
            on conflict (tenant_id, source) do update set
                last_event_at = greatest(source_state.last_event_at, excluded.last_event_at),
                last_refused_at = greatest(source_state.last_refused_at, excluded.last_refused_at)
            """);
        state.Parameters.AddWithValue("tenants", sources.Select(s => s.Tenant).ToArray());
        state.Parameters.AddWithValue("sources", sources.Select(s => s.Source).ToArray());
        state.Parameters.Add(new NpgsqlParameter("events", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.TimestampTz)
            { Value = sources.Select(s => (object?)s.LastEvent ?? DBNull.Value).ToArray() });
        state.Parameters.Add(new NpgsqlParameter("refusals", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.TimestampTz)
            { Value = sources.Select(s => (object?)s.LastRefused ?? DBNull.Value).ToArray() });
        await state.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Sources quiet past their tenant's gap become silent, one row update each (only one instance wins it).</summary>
    private async Task FindSilent(Session session, CancellationToken ct)
    {
        await using (var old = session.Command("delete from source_hours where hour < now() - interval '30 days'"))
        {
            await old.ExecuteNonQueryAsync(ct);
        }
        await using var silent = session.Command("""
            update source_state s set silent = true, silent_since = now()
            from (select st.tenant_id, st.source, coalesce(t.silent_after_seconds, @default) as gap
                  from source_state st left join source_settings t on t.tenant_id = st.tenant_id
                  where not st.silent and st.last_event_at is not null
                      and st.last_event_at < now() - make_interval(secs => coalesce(t.silent_after_seconds, @default))
                  for update of st skip locked) due
            where s.tenant_id = due.tenant_id and s.source = due.source
            returning s.tenant_id, s.source, s.last_event_at, due.gap
            """);
        silent.Parameters.AddWithValue("default", (int)options.Value.SilentAfter.TotalSeconds);
        await Publish(session, silent, silent: true, ct);
    }

    private static async Task Publish(Session session, NpgsqlCommand changes, bool silent, CancellationToken ct)
    {
        await using var reader = await changes.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var changed = new SourceHealthChanged(Guid.CreateVersion7(), reader.GetString(0), reader.GetString(1), silent,
                reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2), DateTimeOffset.UtcNow, reader.GetInt32(3));
            session.Publish(changed, changed.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Source watch pass failed: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
