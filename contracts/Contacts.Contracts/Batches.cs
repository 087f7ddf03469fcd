namespace Contacts.Contracts;

/// <summary>
/// One message inside a batch, as its writer's outbox row held it: the row's id (what the consumers' inboxes dedupe on,
/// whichever batch carries it), the row's commit time (the stage lag is measured from it) and the trace context of the
/// work that wrote it, so each contact's trace still runs from the gateway to the CRM.
/// </summary>
public sealed record BatchItem<T>(Guid MessageId, DateTimeOffset SentAt, string? Traceparent, T Message);

/// <summary>
/// Contacts accepted by ingestion, many to a message: the unit of work between services. Items are in commit order and
/// may belong to several tenants; each is handled as if it had come alone.
/// </summary>
public sealed record ContactEventReceivedBatch(Guid Id, IReadOnlyList<BatchItem<ContactEventReceived>> Items);

/// <summary>Contacts identity attributed, many to a message (see <see cref="ContactEventReceivedBatch"/>).</summary>
public sealed record ContactAttributedBatch(Guid Id, IReadOnlyList<BatchItem<ContactAttributed>> Items);

/// <summary>Scores effort computed, many to a message (see <see cref="ContactEventReceivedBatch"/>).</summary>
public sealed record EffortScoredBatch(Guid Id, IReadOnlyList<BatchItem<EffortScored>> Items);

/// <summary>Merges identity decided, many to a message (see <see cref="ContactEventReceivedBatch"/>).</summary>
public sealed record CustomersMergedBatch(Guid Id, IReadOnlyList<BatchItem<CustomersMerged>> Items);
