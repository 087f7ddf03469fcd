using Contacts.Alerting.Settings;
using Contacts.Contracts;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Records the customer's newest score and raises HighEffortAlertRaised when it crosses a rule with no alert open for
/// that reason, queueing the webhook in the same transaction. Scores older than the customer's current one (by version)
/// and scores of customers merged away change nothing, whatever order they arrive in; merges a score names that have not
/// reached alerting yet are folded before it is decided.
/// </summary>
public sealed class EffortScoredBatchConsumer(Database database, AlertChanges changes, AlertingSettingsStore settings, TimeProvider clock)
    : BatchConsumer<EffortScoredBatch, EffortScored>(database, PipelineTopology.AlertingEffortScored)
{
    private bool _queued;

    protected override IReadOnlyList<BatchItem<EffortScored>>? ItemsOf(EffortScoredBatch batch) => batch.Items;

    protected override EffortScoredBatch Alone(BatchItem<EffortScored> item) => new(item.MessageId, [item]);

    protected override async Task Handle(Session session, EffortScored score, CancellationToken ct) =>
        _queued |= await changes.Apply(session, score.TenantId, await EffortScoredConsumer.Decide(session, settings, clock, score, ct), ct);

    protected override void Handled()
    {
        if (_queued)
        {
            changes.WakeSender();
        }
    }
}

public sealed class EffortScoredBatchConsumerDefinition()
    : ContactsConsumerDefinition<EffortScoredBatchConsumer>(PipelineTopology.AlertingEffortScored, concurrentMessageLimit: 4);

/// <summary>A score that came alone: from a writer of the shape before batches, during a rolling upgrade.</summary>
public sealed class EffortScoredConsumer(AlertChanges changes, AlertingSettingsStore settings, TimeProvider clock) : IConsumer<EffortScored>
{
    public Task Consume(ConsumeContext<EffortScored> context)
    {
        var score = context.Message;
        return changes.HandleOnce(context, PipelineTopology.AlertingEffortScored, score.TenantId,
            (session, ct) => Decide(session, settings, clock, score, ct), together: true);
    }

    /// <summary>Loads what a score decides on (the customer, the merges it names that alerting has not folded yet, the rules) and decides.</summary>
    public static async Task<IReadOnlyList<AlertDecisionEvent>> Decide(Session session, AlertingSettingsStore settings, TimeProvider clock,
        EffortScored score, CancellationToken ct)
    {
        // Customers merged into this one that alerting has not recorded as merged yet (usually none: CustomersMerged came first).
        var unmerged = await AlertStore.NotYetMerged(session, score.TenantId, score.CustomerId, score.MergedCustomerIds ?? [], ct);
        // The survivor's re-score after a split also loads the restored side, in case the split has not reached alerting yet.
        Guid[] restored = score.Split is { } split && split.CustomerId == score.CustomerId && split.RestoredCustomerId != score.CustomerId
            ? [split.RestoredCustomerId]
            : [];
        var folded = unmerged.Except(restored).ToList();
        Guid[] ids = [score.CustomerId, .. folded, .. restored];
        var (states, rules) = await AlertStore.LockAndLoad(session, score.TenantId, ids, ids, settings, ct);
        var (state, merged) = (states[0], states.Skip(1).Take(folded.Count).ToList());
        return AlertDecision.Decide(state, merged, score, rules, Guid.CreateVersion7, clock.GetUtcNow(), restored.Length > 0 ? states[^1] : null);
    }
}

public sealed class EffortScoredConsumerDefinition()
    : ContactsConsumerDefinition<EffortScoredConsumer>(PipelineTopology.AlertingEffortScored);
