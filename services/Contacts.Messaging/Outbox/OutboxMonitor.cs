using Contacts.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using Npgsql;

namespace Contacts.Messaging.Outbox;

/// <summary>
/// Outbox depth and the age of its oldest unsent row, as gauges: a relay that falls behind or a broker that refuses
/// messages shows here before anyone misses an alert.
/// </summary>
internal sealed class OutboxMonitor(NpgsqlDataSource dataSource, MigrationState migrations) : TableGauge<OutboxReading>(dataSource, migrations,
    "select count(*) as depth, coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldestageseconds from outbox where sent_at is null")
{
    protected override void CreateGauges()
    {
        ContactsTelemetry.Meter.CreateObservableGauge("contacts.outbox.depth", () => Last?.Depth ?? 0,
            description: "Outbox rows not yet confirmed by the broker");
        ContactsTelemetry.Meter.CreateObservableGauge("contacts.outbox.oldest_age", () => Last?.OldestAgeSeconds ?? 0,
            unit: "s", description: "Age of the oldest outbox row not yet confirmed by the broker");
    }
}

internal sealed record OutboxReading(long Depth, double OldestAgeSeconds);
