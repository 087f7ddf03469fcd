using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Alerts follow identity's merges: a merged customer's open alert moves to the survivor (or closes, when the survivor
/// already has one for that reason), and its later scores are ignored as stale. Merges of a chain may arrive in any
/// order: the survivor is followed to the last one before deciding.
/// </summary>
public sealed class CustomersMergedConsumer(Database database, IOptions<WebhookOptions> webhooks, WebhookSignal signal) : IConsumer<CustomersMerged>
{
    public async Task Consume(ConsumeContext<CustomersMerged> context)
    {
        var queued = false;
        await database.HandleOnce(context, PipelineTopology.AlertingCustomersMerged, async session =>
        {
            var merge = context.Message;
            var ct = context.CancellationToken;
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
            queued = await AlertStore.Apply(session, merge.TenantId, AlertDecision.Decide(survivor, merged, merge.SurvivorId), webhooks.Value, ct);
        });
        if (queued)
        {
            signal.Notify(); // the CRM is told of alerts closed into the survivor's
        }
    }
}

public sealed class CustomersMergedConsumerDefinition()
    : ContactsConsumerDefinition<CustomersMergedConsumer>(PipelineTopology.AlertingCustomersMerged);
