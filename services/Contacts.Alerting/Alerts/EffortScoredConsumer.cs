using System.Diagnostics;
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

    protected override bool DecidesSets => true;

    /// <summary>
    /// The whole batch, per tenant: one round trip locks and loads every customer the scores name with the tenant's rules,
    /// the scores are decided in arrival order on those states (<see cref="AlertBatch"/>), the customers' rows are written
    /// in one statement, and each score's alert changes are stored and published under its own contact's span. A batch
    /// holding a score after a split is refused by AlertBatch.Decide before anything is written, and falls back to one
    /// score at a time.
    /// </summary>
    protected override async Task HandleSet(Session session, IReadOnlyList<(EffortScored Message, Activity? Span)> items, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        // Tenants in a fixed order, as each tenant's locks are: two batches never wait on each other in a circle.
        foreach (var tenant in items.GroupBy(i => i.Message.TenantId).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var scores = tenant.ToList();
            Guid[] ids = [.. scores.SelectMany(s => s.Message.MergedCustomerIds ?? []).Concat(scores.Select(s => s.Message.CustomerId)).Distinct()];
            var (states, rules) = await AlertStore.LockAndLoad(session, tenant.Key, ids, ids, settings, ct);
            var decision = AlertBatch.Decide(states, [.. scores.Select(s => s.Message)], rules, Guid.CreateVersion7, now);
            _queued |= await changes.ApplySet(session, tenant.Key, decision, [.. scores.Select(s => s.Span)], ct);
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
