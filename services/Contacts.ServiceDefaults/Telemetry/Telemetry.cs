using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Contacts.ServiceDefaults.Telemetry;

/// <summary>The project's own activity source and meter; spans and metrics carry ids, never phone numbers or emails.</summary>
public static class ContactsTelemetry
{
    public const string Name = "Contacts";

    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> OutboxPublished =
        Meter.CreateCounter<long>("contacts.outbox.published", description: "Outbox messages confirmed by the broker");
    public static readonly Counter<long> OutboxPublishFailures =
        Meter.CreateCounter<long>("contacts.outbox.publish_failures", description: "Outbox publishes that failed and will be retried");
    public static readonly Counter<long> InboxDuplicates =
        Meter.CreateCounter<long>("contacts.inbox.duplicates", description: "Redelivered messages recognised by the inbox and skipped");

    public static readonly Histogram<long> SharedTransactionSize =
        Meter.CreateHistogram<long>("contacts.consume.shared_transaction.size", unit: "{message}",
            description: "Messages of one consumer committed in one shared transaction, per consumer");

    public static readonly Counter<long> SharedTransactionFallbacks =
        Meter.CreateCounter<long>("contacts.consume.shared_transaction.fallbacks",
            description: "Shared transactions rolled back and their messages handled one by one, per consumer");

    public static readonly Counter<long> SetDecisionFallbacks =
        Meter.CreateCounter<long>("contacts.consume.set.fallbacks",
            description: "Batches whose decision as a set failed (a version race, an invalid item) and whose items were handled one by one, per consumer");

    public static readonly Counter<long> BatchItemsSplitOut =
        Meter.CreateCounter<long>("contacts.consume.batch.split_out",
            description: "Items of a batch message that failed and were sent back to their queue alone, per consumer");

    /// <summary>
    /// Per stage: from the moment the upstream service committed a message (its outbox row) to the moment this consumer
    /// committed its effect. Ingestion's stage starts at acceptance, so the stages add up to accepted -> scored -> alerted.
    /// </summary>
    public static readonly Histogram<double> StageLag =
        Meter.CreateHistogram<double>("contacts.stage.lag", unit: "s", description: "Upstream commit to this consumer's commit, per consumer");

    public static readonly Counter<long> ReceiveEndpointRestarts =
        Meter.CreateCounter<long>("contacts.receive_endpoint.restarts",
            description: "Receive endpoints the watchdog found stalled (messages waiting, nothing taken) and restarted, per queue");

    public static readonly Counter<long> WebhookAttempts =
        Meter.CreateCounter<long>("contacts.webhook.attempts", description: "CRM webhook delivery attempts, by outcome (delivered, pending, failed, disabled)");

    public static readonly Counter<long> UnexpectedFailures =
        Meter.CreateCounter<long>("contacts.http.unexpected_failures",
            description: "Requests answered 500: failures a retry cannot fix, by exception type and endpoint (503s for outages are not counted)");
}
