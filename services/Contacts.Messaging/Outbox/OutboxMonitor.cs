using System.Diagnostics.Metrics;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Contacts.Messaging.Outbox;

/// <summary>
/// Outbox depth and the age of its oldest unsent row, as gauges: a relay that falls behind or a broker that refuses
/// messages shows here before anyone misses an alert. Read every 10 s rather than at each scrape, so a scrape never
/// waits on the database.
/// </summary>
internal sealed class OutboxMonitor(NpgsqlDataSource dataSource, MigrationState migrations) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private long _depth;
    private double _oldestAgeSeconds;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ContactsTelemetry.Meter.CreateObservableGauge("contacts.outbox.depth", () => Interlocked.Read(ref _depth),
            description: "Outbox rows not yet confirmed by the broker");
        ContactsTelemetry.Meter.CreateObservableGauge("contacts.outbox.oldest_age", () => Volatile.Read(ref _oldestAgeSeconds),
            unit: "s", description: "Age of the oldest outbox row not yet confirmed by the broker");
        await migrations.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await using var cmd = dataSource.CreateCommand(
                    "select count(*), coalesce(extract(epoch from now() - min(created_at)), 0)::float8 from outbox where sent_at is null");
                await using var reader = await cmd.ExecuteReaderAsync(stoppingToken);
                if (await reader.ReadAsync(stoppingToken))
                {
                    Interlocked.Exchange(ref _depth, reader.GetInt64(0));
                    Volatile.Write(ref _oldestAgeSeconds, reader.GetDouble(1));
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
