using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.Messaging;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Effort's moment watch, one message per pass and tenant, in one transaction (inbox): each moment of misery reaches the
/// tenant's subscribers to moment.misery (under its own id, so the same contact is one event), a broken promise raises an
/// alert promise_broken on the customer it belongs to now, and each fall of the loyalty account below the floor reaches
/// subscribers to ledger.balance_low.
/// </summary>
public sealed class MomentsConsumer(AlertChanges changes, AlertingSettingsStore settings, TimeProvider clock) : IConsumer<MomentsAnnounced>
{
    public async Task Consume(ConsumeContext<MomentsAnnounced> context)
    {
        var told = context.Message;
        if (string.IsNullOrWhiteSpace(told.TenantId) || told.Misery.Concat<object>(told.BalanceLow).Any(m => m is null)
            || told.Misery.Any(m => m.TenantId != told.TenantId) || told.BalanceLow.Any(l => l.TenantId != told.TenantId))
        {
            throw new InvalidMessageException($"MomentsAnnounced {told.Id} lacks a tenant or mixes tenants");
        }
        var notified = false;
        await changes.HandleOnce(context, PipelineTopology.AlertingMoments, told.TenantId, async (session, ct) =>
        {
            foreach (var misery in told.Misery)
            {
                notified |= await changes.Notify(session, told.TenantId, misery.Id, StoryWebhookTypes.MomentMisery, misery.DecidedAt,
                    new MomentMiseryData(misery.CustomerId, misery.ContactId, misery.Reasons, misery.At, misery.Balance), misery.CustomerId, ct);
                if (!misery.Reasons.Contains(AlertRules.PromiseBroken))
                {
                    continue;
                }
                var customerId = await AlertStore.LastSurvivor(session, told.TenantId, misery.CustomerId, ct);
                var (states, rules) = await AlertStore.LockAndLoad(session, told.TenantId, [customerId], [customerId], settings, ct);
                var events = AlertDecision.Decide(states[0], misery, rules, Guid.CreateVersion7, clock.GetUtcNow());
                // Applied at once, so a second broken promise of the same customer in this message sees the first alert.
                notified |= await changes.Apply(session, told.TenantId, events, ct);
            }
            foreach (var low in told.BalanceLow)
            {
                notified |= await changes.Notify(session, told.TenantId, low.Id, StoryWebhookTypes.LedgerBalanceLow, low.DecidedAt,
                    new LedgerBalanceLowData(low.CustomerId, low.Balance, low.Floor, low.ContactId, low.Reason, low.At), low.CustomerId, ct);
            }
            return [];
        });
        if (notified)
        {
            changes.WakeSender();
        }
    }
}

public sealed class MomentsConsumerDefinition() : ContactsConsumerDefinition<MomentsConsumer>(PipelineTopology.AlertingMoments);
