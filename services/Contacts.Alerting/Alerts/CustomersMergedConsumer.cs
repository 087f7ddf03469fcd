using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.Identifiers;
using Contacts.Messaging;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Alerts follow identity's merges: a merged customer's open alert moves to the survivor (or closes, when the survivor
/// already has one for that reason), and its later scores are ignored as stale. Merges of a chain may arrive in any
/// order: the survivor is followed to the last one before deciding. Subscribers to customer.merged hear of it once, under
/// the merge's own id.
/// </summary>
public sealed class CustomersMergedConsumer(AlertChanges changes) : IConsumer<CustomersMerged>
{
    public async Task Consume(ConsumeContext<CustomersMerged> context)
    {
        var merge = context.Message;
        var notified = false;
        await changes.HandleOnce(context, PipelineTopology.AlertingCustomersMerged, merge.TenantId, async (session, ct) =>
        {
            notified = await changes.Notify(session, merge.TenantId, merge.Id, CustomerWebhookTypes.Merged, merge.MergedAt,
                new CustomerMergedData(merge.SurvivorId, merge.MergedIds, [.. (merge.IdentifierTypes ?? []).Select(IdentifierTypes.PublicName)]),
                merge.SurvivorId, ct);
            var survivorId = await AlertStore.LastSurvivor(session, merge.TenantId, merge.SurvivorId, ct);
            var states = await AlertStore.LockAndLoad(session, merge.TenantId, [survivorId, .. merge.MergedIds],
                [survivorId, .. merge.MergedIds.Where(id => id != survivorId).Distinct()], ct);
            var (survivor, merged) = (states[0], states.Skip(1).ToList());
            if (survivor.MergedInto is not null)
            {
                throw AlertStore.SurvivorMoved(survivorId);
            }
            return AlertDecision.Decide(survivor, merged, merge.SurvivorId); // the CRM is told of alerts closed into the survivor's
        }, together: true);
        if (notified)
        {
            changes.WakeSender();
        }
    }
}

public sealed class CustomersMergedConsumerDefinition()
    : ContactsConsumerDefinition<CustomersMergedConsumer>(PipelineTopology.AlertingCustomersMerged);
