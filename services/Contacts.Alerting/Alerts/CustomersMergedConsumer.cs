using System.Diagnostics;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.Identifiers;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Alerts follow identity's merges, many merges to a message: a merged customer's open alert moves to the survivor (or
/// closes, when the survivor already has one for that reason), and its later scores are ignored as stale. Merges of a
/// chain may arrive in any order: the survivor is followed to the last one before deciding. Subscribers to
/// customer.merged hear of it once, under the merge's own id.
/// </summary>
public sealed class CustomersMergedBatchConsumer(Database database, AlertChanges changes, TimeProvider clock)
    : BatchConsumer<CustomersMergedBatch, CustomersMerged>(database, PipelineTopology.AlertingCustomersMerged)
{
    private bool _queued;

    protected override IReadOnlyList<BatchItem<CustomersMerged>>? ItemsOf(CustomersMergedBatch batch) => batch.Items;

    protected override CustomersMergedBatch Alone(BatchItem<CustomersMerged> item) => new(item.MessageId, [item]);

    protected override async Task Handle(Session session, CustomersMerged merge, CancellationToken ct) =>
        _queued |= await CustomersMergedConsumer.Fold(session, changes, merge, ct);

    protected override bool DecidesSets => true;

    /// <summary>
    /// The whole batch, per tenant: the customer.merged webhooks; one statement finds where each survivor's merges lead,
    /// one round trip locks and loads those survivors and every merged customer, <see cref="AlertBatch.DecideMerges"/>
    /// folds the merges in arrival order, the customers' rows are written in one statement and each merge's alert changes
    /// are stored under its own span. A survivor merged away by another instance in the meantime rolls the set back, and
    /// the merges go one at a time, which follows the chain again.
    /// </summary>
    protected override async Task HandleSet(Session session, IReadOnlyList<(CustomersMerged Message, Activity? Span)> items, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        foreach (var tenant in items.GroupBy(i => i.Message.TenantId).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var merges = tenant.ToList();
            var lastSurvivors = await AlertStore.LastSurvivors(session, tenant.Key, [.. merges.Select(m => m.Message.SurvivorId)], ct);
            Guid[] ids = [.. lastSurvivors.Values.Concat(merges.SelectMany(m => m.Message.MergedIds)).Distinct()];
            var states = await AlertStore.LockAndLoad(session, tenant.Key, ids, ids, ct);
            var survivors = lastSurvivors.Values.ToHashSet();
            if (states.FirstOrDefault(s => survivors.Contains(s.CustomerId) && s.MergedInto is not null) is { } moved)
            {
                throw AlertStore.SurvivorMoved(moved.CustomerId);
            }
            var decision = AlertBatch.DecideMerges(states, [.. merges.Select(m => m.Message)], lastSurvivors, now);
            _queued |= await changes.ApplySet(session, tenant.Key, decision, [.. merges.Select(m => m.Span)], ct,
                i => CustomersMergedConsumer.Notify(session, changes, merges[i].Message, ct));
        }
    }

    protected override void Handled()
    {
        if (_queued)
        {
            changes.WakeSender();
        }
    }
}

public sealed class CustomersMergedBatchConsumerDefinition()
    : ContactsConsumerDefinition<CustomersMergedBatchConsumer>(PipelineTopology.AlertingCustomersMerged, concurrentMessageLimit: 4);

/// <summary>A merge that came alone: from a writer of the shape before batches, during a rolling upgrade.</summary>
public sealed class CustomersMergedConsumer(AlertChanges changes) : IConsumer<CustomersMerged>
{
    public async Task Consume(ConsumeContext<CustomersMerged> context)
    {
        var queued = false;
        await changes.HandleOnce(context, PipelineTopology.AlertingCustomersMerged, context.Message.TenantId, async (session, ct) =>
        {
            queued = await Fold(session, changes, context.Message, ct);
            return [];
        }, together: true);
        if (queued)
        {
            changes.WakeSender();
        }
    }

    /// <summary>Subscribers to customer.merged hear of it once, under the merge's own id. True when a webhook was queued.</summary>
    public static Task<bool> Notify(Session session, AlertChanges changes, CustomersMerged merge, CancellationToken ct) =>
        changes.Notify(session, merge.TenantId, merge.Id, CustomerWebhookTypes.Merged, merge.MergedAt,
            new CustomerMergedData(merge.SurvivorId, merge.MergedIds, [.. (merge.IdentifierTypes ?? []).Select(IdentifierTypes.PublicName)]),
            merge.SurvivorId, ct);

    /// <summary>One merge's whole step in the caller's transaction: the customer.merged webhook, then the merged customers folded into the last survivor. True when a webhook was queued.</summary>
    public static async Task<bool> Fold(Session session, AlertChanges changes, CustomersMerged merge, CancellationToken ct)
    {
        var notified = await Notify(session, changes, merge, ct);
        var survivorId = await AlertStore.LastSurvivor(session, merge.TenantId, merge.SurvivorId, ct);
        var states = await AlertStore.LockAndLoad(session, merge.TenantId, [survivorId, .. merge.MergedIds],
            [survivorId, .. merge.MergedIds.Where(id => id != survivorId).Distinct()], ct);
        var (survivor, merged) = (states[0], states.Skip(1).ToList());
        if (survivor.MergedInto is not null)
        {
            throw AlertStore.SurvivorMoved(survivorId);
        }
        // The CRM is told of alerts closed into the survivor's.
        return await changes.Apply(session, merge.TenantId, AlertDecision.Decide(survivor, merged, merge.SurvivorId), ct) | notified;
    }
}

public sealed class CustomersMergedConsumerDefinition()
    : ContactsConsumerDefinition<CustomersMergedConsumer>(PipelineTopology.AlertingCustomersMerged);
