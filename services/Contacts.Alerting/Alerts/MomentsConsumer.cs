using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Effort's moment watch: a moment of misery reaches the tenant's subscribers to moment.misery once (inbox), and a broken
/// promise raises an alert promise_broken on the customer it belongs to now; a fall of the loyalty account below the floor
/// reaches subscribers to ledger.balance_low.
/// </summary>
public sealed class MomentsConsumer(AlertChanges changes, AlertingSettingsStore settings, TimeProvider clock)
    : IConsumer<MomentOfMisery>, IConsumer<LedgerBalanceLow>
{
    public async Task Consume(ConsumeContext<MomentOfMisery> context)
    {
        var misery = context.Message;
        var notified = false;
        await changes.HandleOnce(context, PipelineTopology.AlertingMoments, misery.TenantId, async (session, ct) =>
        {
            notified = await changes.Notify(session, misery.TenantId, misery.Id, StoryWebhookTypes.MomentMisery, misery.DecidedAt,
                new MomentMiseryData(misery.CustomerId, misery.ContactId, misery.Reasons, misery.At, misery.Balance), misery.CustomerId, ct);
            var customerId = await AlertStore.LastSurvivor(session, misery.TenantId, misery.CustomerId, ct);
            var (states, rules) = await AlertStore.LockAndLoad(session, misery.TenantId, [customerId], [customerId], settings, ct);
            return AlertDecision.Decide(states[0], misery, rules, Guid.CreateVersion7, clock.GetUtcNow());
        });
        if (notified)
        {
            changes.WakeSender();
        }
    }

    public async Task Consume(ConsumeContext<LedgerBalanceLow> context)
    {
        var low = context.Message;
        var notified = false;
        await changes.HandleOnce(context, PipelineTopology.AlertingMoments, low.TenantId, async (session, ct) =>
        {
            notified = await changes.Notify(session, low.TenantId, low.Id, StoryWebhookTypes.LedgerBalanceLow, low.DecidedAt,
                new LedgerBalanceLowData(low.CustomerId, low.Balance, low.Floor, low.ContactId, low.Reason, low.At), low.CustomerId, ct);
            return [];
        });
        if (notified)
        {
            changes.WakeSender();
        }
    }
}

public sealed class MomentsConsumerDefinition() : ContactsConsumerDefinition<MomentsConsumer>(PipelineTopology.AlertingMoments);
