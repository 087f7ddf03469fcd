using System.Diagnostics.Metrics;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using Npgsql;

namespace Contacts.Alerting.Webhooks;

/// <summary>
/// Subscriptions by state (healthy, failing, disabled) as a gauge, so a CRM that stopped answering pages someone before
/// it is disabled, and a disabled one is seen at all. Every state is reported, zero included, so the series exist from the
/// start. Read every 10 s rather than at each scrape, so a scrape never waits on the database. No tenant or URL is a label.
/// </summary>
internal sealed class SubscriptionMonitor(NpgsqlDataSource dataSource, MigrationState migrations) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private long _healthy;
    private long _failing;
    private long _disabled;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ContactsTelemetry.Meter.CreateObservableGauge("contacts.webhook.subscriptions", () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref _healthy), new KeyValuePair<string, object?>("state", "healthy")),
            new Measurement<long>(Interlocked.Read(ref _failing), new KeyValuePair<string, object?>("state", "failing")),
            new Measurement<long>(Interlocked.Read(ref _disabled), new KeyValuePair<string, object?>("state", "disabled")),
        }, description: "Webhook subscriptions by state: healthy, failing (deliveries failing since failing_since), disabled");
        await migrations.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await using var cmd = dataSource.CreateCommand("""
                    select count(*) filter (where status = 'enabled' and failing_since is null),
                           count(*) filter (where status = 'enabled' and failing_since is not null),
                           count(*) filter (where status <> 'enabled')
                    from webhook_subscriptions
                    """);
                await using var reader = await cmd.ExecuteReaderAsync(stoppingToken);
                if (await reader.ReadAsync(stoppingToken))
                {
                    Interlocked.Exchange(ref _healthy, reader.GetInt64(0));
                    Interlocked.Exchange(ref _failing, reader.GetInt64(1));
                    Interlocked.Exchange(ref _disabled, reader.GetInt64(2));
                }
            }
            catch (NpgsqlException)
            {
                // the database is restarting: keep the last reading, try again at the next tick
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
