using Contacts.Contracts;

namespace Contacts.Messaging;

/// <summary>
/// Every queue of the pipeline and the events it is bound to. Each service declares all of it at start-up, so an event
/// published before its consumer has ever run waits in that consumer's queue instead of being dropped by the broker.
/// </summary>
public static class PipelineTopology
{
    public const string IdentityContactEvents = "identity-contact-events";
    public const string EffortContactAttributed = "effort-contact-attributed";
    public const string AlertingEffortScored = "alerting-effort-scored";
    public const string EffortCustomerSplit = "effort-customer-split";
    public const string EffortCustomerErased = "effort-customer-erased";
    public const string IngestionCustomerErased = "ingestion-customer-erased";
    public const string AlertingCustomersMerged = "alerting-customers-merged";
    public const string AlertingCustomerSplit = "alerting-customer-split";
    public const string AlertingCustomerErased = "alerting-customer-erased";
    public const string AlertingSourceHealth = "alerting-source-health";
    public const string AlertingMoments = "alerting-moments";

    public static readonly IReadOnlyList<(string Queue, Type[] Messages)> Endpoints =
    [
        // The per-contact stages take batches (PipelineBatches); the single message types stay bound, so messages of
        // the old shape still queued during a rolling upgrade are handled as before.
        (IdentityContactEvents, [typeof(ContactEventReceivedBatch), typeof(ContactEventReceived)]),
        // Partitioned stages (below): the batches reach the stage's partition queues, not its main queue.
        (EffortContactAttributed, [typeof(ContactAttributed)]),
        (AlertingEffortScored, [typeof(EffortScored)]),
        (EffortCustomerSplit, [typeof(CustomerSplit)]),
        (EffortCustomerErased, [typeof(CustomerErased)]),
        (IngestionCustomerErased, [typeof(CustomerErased)]),
        (AlertingCustomersMerged, [typeof(CustomersMergedBatch), typeof(CustomersMerged)]),
        (AlertingCustomerSplit, [typeof(CustomerSplit)]),
        (AlertingCustomerErased, [typeof(CustomerErased)]),
        (AlertingSourceHealth, [typeof(SourceHealthChanged)]),
        (AlertingMoments, [typeof(MomentsAnnounced)]),
    ];

    /// <summary>Events with no queue of ours: CRMs and other subscribers bind their own queues to these exchanges.</summary>
    public static readonly IReadOnlyList<Type> PublishedOnly =
        [typeof(HighEffortAlertRaised), typeof(AlertEscalated), typeof(AlertAcknowledged), typeof(AlertResolved)];

    /// <summary>
    /// The stages routed by customer after identity: their batches (each of one partition, <see cref="PipelineBatches"/>)
    /// go from the batch type's exchange to a direct exchange "&lt;stage&gt;-partitions", which routes each by its routing key
    /// (the partition) to "&lt;stage&gt;-&lt;p&gt;", a queue with a single active consumer: one customer's work goes to one
    /// instance at a time, and when that instance goes another subscribed one takes the partition over. A batch with no
    /// partition or one beyond the configured count (a writer of the shape before partitions, during a rolling upgrade)
    /// reaches the stage's main queue through the direct exchange's alternate exchange, as do one-item batches split out.
    /// </summary>
    public static readonly IReadOnlyList<(string Stage, Type Batch)> Partitioned =
    [
        (EffortContactAttributed, typeof(ContactAttributedBatch)),
        (AlertingEffortScored, typeof(EffortScoredBatch)),
    ];

    /// <summary>The direct exchange that routes a partitioned stage's batches to its partition queues.</summary>
    public static string PartitionExchange(string stage) => $"{stage}-partitions";

    /// <summary>A partition's queue (and the exchange of the same name, as MassTransit names an endpoint's).</summary>
    public static string PartitionQueue(string stage, int partition) => $"{stage}-{partition}";

    /// <summary>The partitioned stage a queue belongs to (its main queue or one of its partition queues), or null.</summary>
    public static string? PartitionedStageOf(string queue) =>
        Partitioned.Select(p => p.Stage).FirstOrDefault(stage => queue == stage
            || queue.Length > stage.Length + 1 && queue.StartsWith(stage + "-", StringComparison.Ordinal)
            && int.TryParse(queue.AsSpan(stage.Length + 1), System.Globalization.NumberStyles.None, null, out _));

    /// <summary>Whether the queue is one of a partitioned stage's partition queues.</summary>
    public static bool IsPartitionQueue(string queue) => PartitionedStageOf(queue) is { } stage && stage != queue;

    /// <summary>The queues a stage's messages can wait in: the stage's own and, for a partitioned one, its partitions'.</summary>
    public static IEnumerable<string> QueuesOf(string stage, int partitions) =>
        Partitioned.Any(p => p.Stage == stage)
            ? Enumerable.Range(0, partitions).Select(p => PartitionQueue(stage, p)).Prepend(stage)
            : [stage];

    /// <summary>MassTransit's exchange name for a message type: "Namespace:TypeName".</summary>
    public static string ExchangeName(Type messageType) => $"{messageType.Namespace}:{messageType.Name}";
}
