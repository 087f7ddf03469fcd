using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Dapper;
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
        List<(string Tenant, Guid Id)> due;
        await using (var connection = dataSource.CreateConnection())
        {
            due = (await connection.QueryAsync<(string, Guid)>(new CommandDefinition("""
                select tenant_id, id from alerts where status in ('open', 'acknowledged') and journey_last_at < @before order by journey_last_at limit 500
                """, new { before = clock.GetUtcNow() - window }, cancellationToken: ct))).AsList();
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

    private static async Task<(AlertSnapshot Alert, DateTimeOffset? JourneyLastAt)?> Snapshot(Session session, string tenant, Guid id, CancellationToken ct) =>
        await session.QuerySingle<ExpiryRow>(
            "select customer_id as customerid, reason, status, journey_last_at as journeylastat from alerts where tenant_id = @tenant and id = @id",
            new { tenant, id }, ct) is { } row
            ? (new AlertSnapshot(id, row.CustomerId, row.Reason, row.Status), row.JourneyLastAt)
            : null;

    private sealed record ExpiryRow(Guid CustomerId, string Reason, string Status, DateTimeOffset? JourneyLastAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert expiry sweep failed: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);
}
