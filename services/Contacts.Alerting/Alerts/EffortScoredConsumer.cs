using System.Text.Json;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Raises HighEffortAlertRaised when a score crosses a rule, once per customer and reason while the alert is open
/// (a later score updates the open alert), and queues its webhook delivery in the same transaction.
/// </summary>
public sealed class EffortScoredConsumer(
    Database database, IOptions<AlertRuleOptions> rules, IOptions<WebhookOptions> webhooks, WebhookSignal signal) : IConsumer<EffortScored>
{
    public async Task Consume(ConsumeContext<EffortScored> context)
    {
        var score = context.Message;
        if (AlertRules.ReasonFor(score, rules.Value) is not { } reason)
        {
            return;
        }
        var queued = false;
        await database.HandleOnce(context, PipelineTopology.AlertingEffortScored, async session =>
        {
            var ct = context.CancellationToken;
            var alertId = Guid.CreateVersion7();
            await using var upsert = session.Command("""
                insert into alerts (id, tenant_id, customer_id, reason, score, drivers, contact_event_id)
                values (@id, @tenant, @customer, @reason, @score, @drivers, @event)
                on conflict (tenant_id, customer_id, reason) where status = 'open'
                do update set score = greatest(alerts.score, excluded.score), drivers = excluded.drivers, updated_at = now()
                returning id
                """);
            upsert.Parameters.AddWithValue("id", alertId);
            upsert.Parameters.AddWithValue("tenant", score.TenantId);
            upsert.Parameters.AddWithValue("customer", score.CustomerId);
            upsert.Parameters.AddWithValue("reason", reason);
            upsert.Parameters.AddWithValue("score", score.Score);
            upsert.Parameters.AddWithValue("drivers", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(score.Drivers, JsonSerializerOptions.Web));
            upsert.Parameters.AddWithValue("event", score.ContactEventId);
            if ((Guid)(await upsert.ExecuteScalarAsync(ct))! != alertId)
            {
                return; // an alert for this customer and reason is already open
            }

            var alert = new HighEffortAlertRaised(Guid.CreateVersion7(), score.TenantId, alertId, score.CustomerId, reason, score.Score,
                score.Drivers, score.ContactEventId, DateTimeOffset.UtcNow);
            session.Publish(alert, alert.Id);
            queued = await WebhookQueue.Enqueue(session, alert, webhooks.Value, ct);
        });
        if (queued)
        {
            signal.Notify();
        }
    }
}

public sealed class EffortScoredConsumerDefinition()
    : ContactsConsumerDefinition<EffortScoredConsumer>(PipelineTopology.AlertingEffortScored);
