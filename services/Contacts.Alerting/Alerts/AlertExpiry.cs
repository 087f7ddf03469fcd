using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Resolves active alerts whose journey has gone quiet for the journey window (closed by time, which no message reports):
/// each under its customer's lock, decided again on the alert as it is then (AlertDecision.Expire).
/// </summary>
internal sealed partial class AlertExpiry(
    Database database, NpgsqlDataSource dataSource, MigrationState migrations, IOptions<AlertRuleOptions> rules, IOptions<WebhookOptions> webhooks,
    WebhookSignal signal, TimeProvider clock, ILogger<AlertExpiry> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        var window = TimeSpan.FromDays(rules.Value.JourneyWindowDays);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Sweep(window, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(logger, ex.Message);
            }
            await Task.Delay(rules.Value.ExpiryInterval, clock, stoppingToken);
        }
    }

    private async Task Sweep(TimeSpan window, CancellationToken ct)
    {
        var due = new List<(string Tenant, Guid Id)>();
        await using (var cmd = dataSource.CreateCommand("""
            select tenant_id, id from alerts where status in ('open', 'acknowledged') and journey_last_at < @before order by journey_last_at limit 500
            """))
        {
            cmd.Parameters.AddWithValue("before", clock.GetUtcNow() - window);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                due.Add((reader.GetString(0), reader.GetGuid(1)));
            }
        }
        var queued = false;
        foreach (var (tenant, id) in due)
        {
            queued |= await database.InTransaction(async session =>
            {
                if (await Snapshot(session, tenant, id, ct) is not { } before)
                {
                    return false;
                }
                await AlertStore.Lock(session, tenant, [before.Alert.CustomerId], ct);
                if (await Snapshot(session, tenant, id, ct) is not { } now || now.Alert.CustomerId != before.Alert.CustomerId)
                {
                    return false; // erased, or moved by a merge in the meantime: the next sweep sees it afresh
                }
                var events = AlertDecision.Expire(now.Alert, now.JourneyLastAt, clock.GetUtcNow(), window);
                return await AlertStore.Apply(session, tenant, events, webhooks.Value, ct);
            }, ct);
        }
        if (queued)
        {
            signal.Notify();
        }
    }

    private static async Task<(AlertSnapshot Alert, DateTimeOffset? JourneyLastAt)?> Snapshot(Session session, string tenant, Guid id, CancellationToken ct)
    {
        await using var cmd = session.Command("select customer_id, reason, status, journey_last_at from alerts where tenant_id = @tenant and id = @id");
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("id", id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? (new AlertSnapshot(id, reader.GetGuid(0), reader.GetString(1), reader.GetString(2)), reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3))
            : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert expiry sweep failed: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);
}
