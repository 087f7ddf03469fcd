using System.Diagnostics;
using System.Text.Json;
using Contacts.Alerting.Alerts;
using Contacts.Alerting.Subscriptions;
using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Webhooks;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Alerting.Webhooks;

/// <summary>The webhook types: one per change of an alert.</summary>
public static class AlertWebhookTypes
{
    public const string Raised = "alert.raised";
    public const string Escalated = "alert.escalated";
    public const string Acknowledged = "alert.acknowledged";
    public const string Resolved = "alert.resolved";
    public static readonly string[] All = [Raised, Escalated, Acknowledged, Resolved];
}

/// <summary>A webhook's data: the alert after the change, named by alertId (as the CRM de-duplicates and links by it).</summary>
public sealed record AlertWebhookData(
    Guid AlertId, Guid CustomerId, string Reason, string Status, int Level, int Score, IReadOnlyList<EffortDriver> Drivers, Guid ContactEventId,
    Guid? JourneyId, string? Topic, IReadOnlyList<string>? Channels, DateTimeOffset RaisedAt, DateTimeOffset UpdatedAt, DateTimeOffset? AcknowledgedAt,
    DateTimeOffset? ClosedAt, string? Resolution, Guid? SupersededBy, AlertLinks Links)
{
    public static AlertWebhookData Of(AlertView a) => new(a.Id, a.CustomerId, a.Reason, a.Status, a.Level, a.Score, a.Drivers, a.ContactEventId,
        a.JourneyId, a.Topic, a.Channels, a.RaisedAt, a.UpdatedAt, a.AcknowledgedAt, a.ClosedAt, a.Resolution, a.SupersededBy, a.Links);
}

/// <summary>Queues a webhook in the transaction that changed the alert, so it is delivered if and only if the change happened.</summary>
public static class WebhookQueue
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>An alert's change: the envelope's data is the alert as it is after the change; messageId is the webhook-id.</summary>
    public static Task<bool> Enqueue(Session session, string tenantId, Guid messageId, AlertView alert, string type, WebhookOptions options,
        CancellationToken ct) =>
        Enqueue(session, tenantId, messageId, type, alert.UpdatedAt, AlertWebhookData.Of(alert), options, ct, alertId: alert.Id, about: alert.CustomerId);

    /// <summary>
    /// Any subscribable event, in the one envelope: one delivery for the deployment-wide URL when its configuration names
    /// the type, and one per enabled or paused subscription of the tenant that wants it (only the named one, for a test
    /// event; all but exceptSubscription, for an event about a subscription). A paused subscription's deliveries wait for
    /// its resume. customerId lets an erasure find the deliveries about that customer.
    /// </summary>
    public static async Task<bool> Enqueue<TData>(Session session, string tenantId, Guid messageId, string type, DateTimeOffset timestamp, TData data,
        WebhookOptions options, CancellationToken ct, Guid? alertId = null, Guid? customerId = null, Guid? onlySubscription = null,
        Guid? exceptSubscription = null, Guid? about = null)
    {
        var body = JsonSerializer.Serialize(new WebhookEnvelope<TData>(type, messageId, timestamp, tenantId, data), Json);
        if (onlySubscription is null && type != WebhookTypes.Test)
        {
            // The tenant's log holds every event, delivered to someone or not: the feed and replay read it.
            EventLog.Append(session, tenantId, messageId, type, about ?? customerId, timestamp, body);
        }
        var deliveries = session.AtCommit<DeliveryRows>();
        var targets = new List<(Guid Id, string Url, Guid? Subscription)>();
        if (onlySubscription is null && !string.IsNullOrWhiteSpace(options.Url) && options.DeploymentWants(type))
        {
            targets.Add((messageId, options.Url, null));
        }
        foreach (var subscription in await deliveries.Subscriptions(session, tenantId, onlySubscription, ct))
        {
            if (subscription.Id != exceptSubscription && (onlySubscription is not null || DeliveryPolicy.Wants(subscription.Events, type)))
            {
                targets.Add((Guid.CreateVersion7(), subscription.Target, subscription.Id));
            }
        }
        var trace = Activity.Current?.Id;
        foreach (var (id, url, subscription) in targets)
        {
            deliveries.Add(new DeliveryRow(id, messageId, alertId, customerId, url, body, trace, type, subscription));
        }
        return targets.Count > 0;
    }
}

internal sealed record DeliveryRow(Guid Id, Guid MessageId, Guid? AlertId, Guid? CustomerId, string Url, string Body, string? Traceparent, string Type,
    Guid? SubscriptionId);

/// <summary>A tenant's subscription as deliveries are queued for it: where it goes and the types it wants.</summary>
internal sealed record SubscriptionTarget(Guid Id, string Target, string[] Events);

/// <summary>
/// The deliveries a transaction queued, written at its commit in one statement, and the tenants' live subscriptions it
/// read to queue them (read once per transaction and tenant, whichever of the transaction's sessions asks first: every
/// event of a batch goes to the same subscriptions).
/// </summary>
internal sealed class DeliveryRows : CommitRows<DeliveryRow>
{
    /// <summary>The tenant's enabled and paused subscriptions (or only the named one, not remembered).</summary>
    public async Task<IReadOnlyList<SubscriptionTarget>> Subscriptions(Session session, string tenant, Guid? only, CancellationToken ct)
    {
        var read = session.Shared<SubscriptionsRead>();
        if (only is null && read.TryGetValue(tenant, out var known))
        {
            return known;
        }
        var found = await session.Query<SubscriptionTarget>("""
            select id, coalesce(queue, url) as target, events from webhook_subscriptions
            where tenant_id = @tenant and status in ('enabled', 'paused') and (@only::uuid is null or id = @only)
            """, new { tenant, only }, ct);
        if (only is null)
        {
            read[tenant] = found;
        }
        return found;
    }

    /// <summary>The subscriptions a transaction has read, by tenant.</summary>
    private sealed class SubscriptionsRead : Dictionary<string, IReadOnlyList<SubscriptionTarget>>;

    protected override NpgsqlBatchCommand Write(IReadOnlyList<DeliveryRow> rows)
    {
        var cmd = new NpgsqlBatchCommand("""
            insert into webhook_deliveries (id, message_id, alert_id, customer_id, url, body, traceparent, event_type, subscription_id)
            select * from unnest(@ids, @messages, @alerts, @customers, @urls, @bodies, @traces, @types, @subscriptions)
            """);
        cmd.Parameters.AddWithValue("ids", rows.Select(r => r.Id).ToArray());
        cmd.Parameters.AddWithValue("messages", rows.Select(r => r.MessageId).ToArray());
        cmd.Parameters.AddWithValue("alerts", NpgsqlDbType.Array | NpgsqlDbType.Uuid, rows.Select(r => r.AlertId).ToArray());
        cmd.Parameters.AddWithValue("customers", NpgsqlDbType.Array | NpgsqlDbType.Uuid, rows.Select(r => r.CustomerId).ToArray());
        cmd.Parameters.AddWithValue("urls", rows.Select(r => r.Url).ToArray());
        cmd.Parameters.AddWithValue("bodies", rows.Select(r => r.Body).ToArray());
        cmd.Parameters.AddWithValue("traces", NpgsqlDbType.Array | NpgsqlDbType.Text, rows.Select(r => r.Traceparent).ToArray());
        cmd.Parameters.AddWithValue("types", rows.Select(r => r.Type).ToArray());
        cmd.Parameters.AddWithValue("subscriptions", NpgsqlDbType.Array | NpgsqlDbType.Uuid, rows.Select(r => r.SubscriptionId).ToArray());
        return cmd;
    }
}
