using System.Text.Json;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Persistence;
using Dapper;
using Npgsql;

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
        var version = await session.Scalar<int>("""
            insert into effort_settings (tenant_id, settings, version) values (@tenant, @settings::jsonb, 1)
            on conflict (tenant_id) do update set settings = excluded.settings, version = effort_settings.version + 1, updated_at = now()
            returning version
            """, new { tenant, settings = JsonSerializer.Serialize(settings, EffortStore.Json) }, ct);
        var id = Guid.CreateVersion7();
        await session.Execute("""
            update replays set status = 'superseded', finished_at = now() where tenant_id = @tenant and status = 'running';
            insert into replays (id, tenant_id, settings_version, status, total)
            select @id, @tenant, @version, 'running', count(*) from customer_effort where tenant_id = @tenant and merged_into is null;
            """, new { tenant, id, version }, ct);
        return (await Find(session.Connection, tenant, id, ct, session.Transaction))!;
    }

    public static Task<ReplayView?> Find(NpgsqlConnection connection, string tenant, Guid id, CancellationToken ct, NpgsqlTransaction? tx = null) =>
        connection.QuerySingleOrDefaultAsync<ReplayView?>(new CommandDefinition(
            $"select {ViewColumns} from replays where id = @id and tenant_id = @tenant", new { tenant, id }, tx, cancellationToken: ct));

    public static Task<ReplayView?> Latest(NpgsqlConnection connection, string tenant, CancellationToken ct) =>
        connection.QueryFirstOrDefaultAsync<ReplayView?>(new CommandDefinition(
            $"select {ViewColumns} from replays where tenant_id = @tenant order by created_at desc limit 1", new { tenant }, cancellationToken: ct));

    private const string ViewColumns =
        "id, status, settings_version as settingsversion, total as customers, done as rescored, created_at as startedat, finished_at as finishedat";

    /// <summary>Re-scores the next batch of one running replay; false when there was nothing to do.</summary>
    public static async Task<bool> Step(Session session, EffortStore store, CancellationToken ct)
    {
        var replay = await session.QuerySingle<RunningReplay>("""
            select id, tenant_id as tenant, cursor from replays where status = 'running' order by created_at limit 1 for update skip locked
            """, null, ct);
        if (replay is null)
        {
            return false;
        }
        var (id, tenant, cursor) = (replay.Id, replay.Tenant, replay.Cursor);
        var settings = await store.Settings(session.Connection, session.Transaction, tenant, ct);
        var customers = await session.Query<Guid>("""
            select customer_id from customer_effort where tenant_id = @tenant and merged_into is null and customer_id > @cursor
            order by customer_id limit @n
            """, new { tenant, cursor = cursor ?? Guid.Empty, n = BatchSize }, ct);
        foreach (var customer in customers)
        {
            await EffortStore.Rebuild(session, tenant, customer, settings, ct);
        }
        await session.Execute("""
            update replays set cursor = @last, done = done + @n,
                status = case when @finished then 'done' else status end, finished_at = case when @finished then now() end
            where id = @id
            """, new { id, last = customers.Count > 0 ? customers[^1] : cursor, n = customers.Count, finished = customers.Count < BatchSize }, ct);
        return true;
    }

    private sealed record RunningReplay(Guid Id, string Tenant, Guid? Cursor);
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
