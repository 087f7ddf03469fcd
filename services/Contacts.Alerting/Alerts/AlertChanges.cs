using System.Diagnostics;
using Contacts.Alerting.Webhooks;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Contacts.Alerting.Alerts;

/// <summary>
/// The shell around every alert decision a message brings: once per message and in one transaction, load and decide
/// (the caller's pure part), store the changes with their events and webhooks; then wake the webhook sender.
/// </summary>
public sealed class AlertChanges(Database database, IOptions<WebhookOptions> webhooks, WebhookSignal signal)
{
    /// <param name="together">Share a transaction with the consumer's other waiting messages (Database.HandleOnceTogether).</param>
    public async Task HandleOnce<T>(ConsumeContext<T> context, string consumer, string tenantId,
        Func<Session, CancellationToken, Task<IReadOnlyList<AlertDecisionEvent>>> decide, bool together = false) where T : class
    {
        var ct = context.CancellationToken;
        var queued = false;
        Func<Session, Task> work = async session => queued = await Apply(session, tenantId, await decide(session, ct), ct);
        await (together ? database.HandleOnceTogether(context, consumer, work) : database.HandleOnce(context, consumer, work));
        if (queued)
        {
            signal.Notify();
        }
    }

    /// <summary>Stores decided changes with their events and webhooks in the caller's transaction; true when a webhook was queued.</summary>
    public Task<bool> Apply(Session session, string tenantId, IReadOnlyList<AlertDecisionEvent> events, CancellationToken ct) =>
        AlertStore.Apply(session, tenantId, events, webhooks.Value, ct);

    /// <summary>
    /// Stores a batch decided as a set (<see cref="AlertBatch"/>) in the caller's transaction: the customers' rows in one
    /// statement, then each item's alert changes, and what <paramref name="also"/> adds for it, under the item's own span
    /// (what they publish and queue travels in that item's trace). True when a webhook was queued.
    /// </summary>
    public async Task<bool> ApplySet(Session session, string tenantId, AlertBatchDecision decision, IReadOnlyList<Activity?> spans, CancellationToken ct,
        Func<int, Task<bool>>? also = null)
    {
        await AlertStore.SaveStates(session, tenantId, decision.Changed, ct);
        var (previous, queued) = (Activity.Current, false);
        try
        {
            for (var i = 0; i < spans.Count; i++)
            {
                Activity.Current = spans[i];
                if (also is not null)
                {
                    queued |= await also(i);
                }
                queued |= await Apply(session, tenantId, [.. decision.Events[i].Where(e => AlertBatch.RowOf(e) is null)], ct);
            }
        }
        finally
        {
            Activity.Current = previous;
        }
        return queued;
    }

    /// <summary>Queues a customer event (customer.merged, .split, .erased) for the subscriptions that asked for it, in the caller's transaction.</summary>
    public Task<bool> Notify<TData>(Session session, string tenantId, Guid messageId, string type, DateTimeOffset at, TData data, Guid? customerId,
        CancellationToken ct) =>
        WebhookQueue.Enqueue(session, tenantId, messageId, type, at, data, webhooks.Value, ct, customerId: customerId);

    /// <summary>After a commit that queued webhooks: the sender delivers them now instead of at its next poll.</summary>
    public void WakeSender() => signal.Notify();
}
