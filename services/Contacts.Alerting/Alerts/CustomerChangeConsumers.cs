using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Identity undid a merge: the restored customer stands alone again and takes back the open alert its own contact raised;
/// effort's re-scores of both sides (newer by version) then decide each side's alerts as they arrive.
/// </summary>
public sealed class CustomerSplitConsumer(AlertChanges changes, AlertingSettingsStore settings, TimeProvider clock) : IConsumer<CustomerSplit>
{
    public async Task Consume(ConsumeContext<CustomerSplit> context)
    {
        var split = context.Message;
        var notified = false;
        await changes.HandleOnce(context, PipelineTopology.AlertingCustomerSplit, split.TenantId, async (session, ct) =>
        {
            notified = await changes.Notify(session, split.TenantId, split.Id, CustomerWebhookTypes.Split, split.SplitAt,
                new CustomerSplitData(split.CustomerId, split.RestoredCustomerId), split.CustomerId, ct);
            var survivorId = await AlertStore.LastSurvivor(session, split.TenantId, split.CustomerId, ct);
            if (survivorId == split.RestoredCustomerId)
            {
                survivorId = split.CustomerId; // the late merge was never applied here, or pointed back: the split's own customer carries on
            }
            var (states, rules) = await AlertStore.LockAndLoad(session, split.TenantId, [survivorId, split.RestoredCustomerId],
                [survivorId, split.RestoredCustomerId], settings, ct);
            var (survivor, restored) = (states[0], states[1]);
            if (survivor.MergedInto is not null)
            {
                throw AlertStore.SurvivorMoved(survivorId);
            }
            return AlertDecision.Decide(survivor, restored, split, rules, Guid.CreateVersion7, clock.GetUtcNow());
        });
        if (notified)
        {
            changes.WakeSender();
        }
    }
}

/// <summary>
/// Forgets an erased customer, the customers once merged into it and alerts raised by its contact events, exactly once,
/// with alerting's outbox rows about them and their dead letters in the queues alerting consumes; then subscribers to
/// customer.erased hear of it once (its delivery is the only one about them that stays).
/// </summary>
public sealed class CustomerErasedConsumer(Database database, ErasureSweep sweep, AlertChanges changes) : IConsumer<CustomerErased>
{
    public async Task Consume(ConsumeContext<CustomerErased> context)
    {
        var notified = false;
        await database.HandleOnce(context, PipelineTopology.AlertingCustomerErased, async session =>
        {
            var erased = context.Message;
            var ids = erased.FormerCustomerIds.Append(erased.CustomerId).Distinct().ToArray();
            await AlertStore.Lock(session, erased.TenantId, ids, context.CancellationToken);
            await AlertStore.Erase(session, erased.TenantId, ids, erased.ContactEventIds, context.CancellationToken);
            await EventLog.Forget(session, erased.TenantId, ids, context.CancellationToken);
            await sweep.ForgetCopies(session, erased,
                [PipelineTopology.AlertingEffortScored, PipelineTopology.AlertingCustomersMerged, PipelineTopology.AlertingCustomerSplit], context.CancellationToken);
            notified = await changes.Notify(session, erased.TenantId, erased.Id, CustomerWebhookTypes.Erased, erased.ErasedAt,
                new CustomerErasedData(erased.CustomerId, erased.FormerCustomerIds), erased.CustomerId, context.CancellationToken);
        });
        if (notified)
        {
            changes.WakeSender();
        }
    }
}

public sealed class CustomerSplitConsumerDefinition() : ContactsConsumerDefinition<CustomerSplitConsumer>(PipelineTopology.AlertingCustomerSplit);

public sealed class CustomerErasedConsumerDefinition() : ContactsConsumerDefinition<CustomerErasedConsumer>(PipelineTopology.AlertingCustomerErased);
