using Contacts.Alerting.Settings;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using MassTransit;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// Records the customer's newest score and raises HighEffortAlertRaised when it crosses a rule with no alert open for
/// that reason, queueing the webhook in the same transaction. Scores older than the customer's current one (by version)
/// and scores of customers merged away change nothing, whatever order they arrive in; merges a score names that have not
/// reached alerting yet are folded before it is decided.
/// </summary>
public sealed class EffortScoredConsumer(AlertChanges changes, AlertingSettingsStore settings, TimeProvider clock) : IConsumer<EffortScored>
{
    public Task Consume(ConsumeContext<EffortScored> context)
    {
        var score = context.Message;
        return changes.HandleOnce(context, PipelineTopology.AlertingEffortScored, score.TenantId, async (session, ct) =>
        {
            // Customers merged into this one that alerting has not recorded as merged yet (usually none: CustomersMerged came first).
            var unmerged = await AlertStore.NotYetMerged(session, score.TenantId, score.CustomerId, score.MergedCustomerIds ?? [], ct);
            var (states, rules) = await AlertStore.LockAndLoad(session, score.TenantId, [score.CustomerId, .. unmerged], [score.CustomerId, .. unmerged],
                settings, ct);
            var (state, merged) = (states[0], states.Skip(1).ToList());
            return AlertDecision.Decide(state, merged, score, rules, Guid.CreateVersion7, clock.GetUtcNow());
        }, together: true);
    }
}

public sealed class EffortScoredConsumerDefinition()
    : ContactsConsumerDefinition<EffortScoredConsumer>(PipelineTopology.AlertingEffortScored);
