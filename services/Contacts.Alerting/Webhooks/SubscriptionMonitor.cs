using System.Diagnostics.Metrics;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using Npgsql;

namespace Contacts.Alerting.Webhooks;

/// <summary>
/// Subscriptions by state (healthy, failing, disabled) as a gauge, so a CRM that stopped answering pages someone before
/// it is disabled, and a disabled one is seen at all. Every state is reported, zero included, so the series exist from the
/// start. No tenant or URL is a label.
/// </summary>
internal sealed class SubscriptionMonitor(NpgsqlDataSource dataSource, MigrationState migrations) : TableGauge<SubscriptionStates>(dataSource,
    migrations, """
    select count(*) filter (where status = 'enabled' and failing_since is null) as healthy,
           count(*) filter (where status = 'enabled' and failing_since is not null) as failing,
           count(*) filter (where status <> 'enabled') as disabled
    from webhook_subscriptions
    """)
{
    protected override void CreateGauges() =>
        ContactsTelemetry.Meter.CreateObservableGauge("contacts.webhook.subscriptions", () => new[]
        {
            new Measurement<long>(Last?.Healthy ?? 0, new KeyValuePair<string, object?>("state", "healthy")),
            new Measurement<long>(Last?.Failing ?? 0, new KeyValuePair<string, object?>("state", "failing")),
            new Measurement<long>(Last?.Disabled ?? 0, new KeyValuePair<string, object?>("state", "disabled")),
        }, description: "Webhook subscriptions by state: healthy, failing (deliveries failing since failing_since), disabled");
}

internal sealed record SubscriptionStates(long Healthy, long Failing, long Disabled);
