using System.Text.Json;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Persistence;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Effort.Settings;

public sealed record SettingsView(EffortSettings Settings, int Version, ReplayView? LastReplay);

public sealed record ReplayView(Guid Id, string Status, int SettingsVersion, int Customers, int Rescored, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt);

/// <summary>Wakes the replay worker at once when settings change, instead of at its next poll.</summary>
public sealed class ReplaySignal
{
    private readonly SemaphoreSlim _signal = new(0);

    public void Notify()
    {
        if (_signal.CurrentCount == 0)
        {
            _signal.Release();
        }
    }

    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);
}

/// <summary>
/// New settings re-score every customer of the tenant from their stored contact events, in batches, each batch in one
/// transaction with the replay's progress (so several instances share the work without doing any customer twice).
/// </summary>
public static class Replays
{
    private const int BatchSize = 50;

    public static async Task<ReplayView> Start(Session session, string tenant, EffortSettings settings, CancellationToken ct)
    {
        int version;
        await using (var save = session.Command("""
            insert into effort_settings (tenant_id, settings, version) values (@t, @s, 1)
            on conflict (tenant_id) do update set settings = excluded.settings, version = effort_settings.version + 1, updated_at = now()
            returning version
            """))
        {
            save.Parameters.AddWithValue("t", tenant);
            save.Parameters.AddWithValue("s", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(settings, EffortStore.Json));
            version = (int)(await save.ExecuteScalarAsync(ct))!;
        }
        var id = Guid.CreateVersion7();
        await using var start = session.Command("""
            update replays set status = 'superseded', finished_at = now() where tenant_id = @t and status = 'running';
            insert into replays (id, tenant_id, settings_version, status, total)
            select @id, @t, @v, 'running', count(*) from customer_effort where tenant_id = @t and merged_into is null;
            """);
        start.Parameters.AddWithValue("t", tenant);
        start.Parameters.AddWithValue("id", id);
        start.Parameters.AddWithValue("v", version);
        await start.ExecuteNonQueryAsync(ct);
        return (await Find(session.Connection, tenant, id, ct, session.Transaction))!;
    }

    public static async Task<ReplayView?> Find(NpgsqlConnection connection, string tenant, Guid id, CancellationToken ct, NpgsqlTransaction? tx = null) =>
        (await Query(connection, tx, "where id = @id and tenant_id = @t", tenant, id, ct)).FirstOrDefault();

    public static async Task<ReplayView?> Latest(NpgsqlConnection connection, string tenant, CancellationToken ct) =>
        (await Query(connection, null, "where tenant_id = @t order by created_at desc limit 1", tenant, Guid.Empty, ct)).FirstOrDefault();

    private static async Task<List<ReplayView>> Query(NpgsqlConnection connection, NpgsqlTransaction? tx, string where, string tenant, Guid id, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"select id, status, settings_version, total, done, created_at, finished_at from replays {where}", connection, tx);
        cmd.Parameters.AddWithValue("t", tenant);
        cmd.Parameters.AddWithValue("id", id);
        var result = new List<ReplayView>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(new ReplayView(reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4),
                reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6)));
        }
        return result;
    }

    /// <summary>Re-scores the next batch of one running replay; false when there was nothing to do.</summary>
    public static async Task<bool> Step(Session session, EffortStore store, CancellationToken ct)
    {
        Guid id;
        string tenant;
        Guid? cursor;
        await using (var claim = session.Command("""
            select id, tenant_id, cursor from replays where status = 'running' order by created_at limit 1 for update skip locked
            """))
        {
            await using var reader = await claim.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return false;
            }
            (id, tenant, cursor) = (reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetGuid(2));
        }
        var settings = await store.Settings(session.Connection, session.Transaction, tenant, ct);
        var customers = new List<Guid>();
        await using (var next = session.Command("""
            select customer_id from customer_effort where tenant_id = @t and merged_into is null and customer_id > @cursor
            order by customer_id limit @n
            """))
        {
            next.Parameters.AddWithValue("t", tenant);
            next.Parameters.AddWithValue("cursor", cursor ?? Guid.Empty);
            next.Parameters.AddWithValue("n", BatchSize);
            await using var reader = await next.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                customers.Add(reader.GetGuid(0));
            }
        }
        foreach (var customer in customers)
        {
            await EffortStore.Rebuild(session, tenant, customer, settings, ct);
        }
        await using var progress = session.Command("""
            update replays set cursor = @cursor, done = done + @n,
                status = case when @finished then 'done' else status end, finished_at = case when @finished then now() end
            where id = @id
            """);
        progress.Parameters.AddWithValue("id", id);
        progress.Parameters.Add(new NpgsqlParameter("cursor", NpgsqlDbType.Uuid) { Value = customers.Count > 0 ? customers[^1] : (object?)cursor ?? DBNull.Value });
        progress.Parameters.AddWithValue("n", customers.Count);
        progress.Parameters.AddWithValue("finished", customers.Count < BatchSize);
        await progress.ExecuteNonQueryAsync(ct);
        return true;
    }
}

/// <summary>Runs replays in the background; a batch that meets a concurrent writer is rolled back and tried again.</summary>
public sealed class ReplayWorker(Database database, EffortStore store, ReplaySignal signal, ILogger<ReplayWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await database.InTransaction(session => Replays.Step(session, store, stoppingToken), stoppingToken))
                {
                }
                await signal.WaitAsync(TimeSpan.FromSeconds(2), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is ConcurrencyException || Contacts.Messaging.RetryConventions.IsTransient(e))
            {
                await Task.Delay(200, stoppingToken);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Replay step failed; trying again shortly");
                await Task.Delay(2000, stoppingToken);
            }
        }
    }
}
