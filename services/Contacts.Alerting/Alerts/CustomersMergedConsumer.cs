using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Alerts follow identity's merges: a merged customer's open alert moves to the survivor (or closes, when the survivor
/// already has one for that reason), and its later scores are ignored as stale. Merges of a chain may arrive in any
/// order: the survivor is followed to the last one before deciding.
/// </summary>
public sealed class CustomersMergedConsumer(AlertChanges changes) : IConsumer<CustomersMerged>
{
    public Task Consume(ConsumeContext<CustomersMerged> context)
    {
        var merge = context.Message;
        return changes.HandleOnce(context, PipelineTopology.AlertingCustomersMerged, merge.TenantId, async (session, ct) =>
        {
            var survivorId = await AlertStore.LastSurvivor(session, merge.TenantId, merge.SurvivorId, ct);
            await AlertStore.Lock(session, merge.TenantId, [survivorId, .. merge.MergedIds], ct);
            var survivor = await AlertStore.Load(session, merge.TenantId, survivorId, ct);
            if (survivor.MergedInto is not null)
            {
                throw AlertStore.SurvivorMoved(survivorId);
            }
            var merged = new List<CustomerAlertState>();
            foreach (var id in merge.MergedIds.Where(id => id != survivorId).Distinct())
            {
                merged.Add(await AlertStore.Load(session, merge.TenantId, id, ct));
            }
            return AlertDecision.Decide(survivor, merged, merge.SurvivorId); // the CRM is told of alerts closed into the survivor's
        });
    }
}

public sealed class CustomersMergedConsumerDefinition()
    : ContactsConsumerDefinition<CustomersMergedConsumer>(PipelineTopology.AlertingCustomersMerged);
