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
        (EffortContactAttributed, [typeof(ContactAttributedBatch), typeof(ContactAttributed)]),
        (AlertingEffortScored, [typeof(EffortScoredBatch), typeof(EffortScored)]),
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

    /// <summary>MassTransit's exchange name for a message type: "Namespace:TypeName".</summary>
    public static string ExchangeName(Type messageType) => $"{messageType.Namespace}:{messageType.Name}";
}
