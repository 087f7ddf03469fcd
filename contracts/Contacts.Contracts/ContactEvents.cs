namespace Contacts.Contracts;

/// <summary>A contact event accepted by ingestion: validated, normalised and de-duplicated.</summary>
public sealed record ContactEventReceived(
    Guid Id,
    string TenantId,
    string Source,
    string SourceEventId,
    string ContactId,
    string Channel,
    string Direction,
    string Kind,
    DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt,
    IReadOnlyList<ContactIdentifier> Identifiers,
    string? Topic,
    string? InitialContactId = null,
    string? PreviousContactId = null,
    DateTimeOffset? StartedAt = null,
    DateTimeOffset? EndedAt = null,
    ContactMeasures? Measures = null,
    int? CesScore = null,
    string? Summary = null,
    string? Outcome = null,
    ContactPromise? Promise = null);

/// <summary>
/// What the customer was promised on a contact (Kind "callback" or "follow_up", due by DueAt); kept by a later outbound
/// contact on any channel. Promises and summaries are customer content: never logged, traced or sent to subscribers.
/// </summary>
public sealed record ContactPromise(string Kind, DateTimeOffset DueAt);

/// <summary>What the platform measured about a contact; every field optional, durations in seconds.</summary>
public sealed record ContactMeasures(
    double? QueueWaitSeconds,
    double? HoldSeconds,
    double? HandleSeconds,
    int? Transfers,
    bool? Abandoned,
    bool? Resolved);

/// <summary>A normalised identifier: phone in E.164, email lower-cased, the rest trimmed.</summary>
public sealed record ContactIdentifier(string Type, string Value);

/// <summary>
/// Identity attached a contact event to a customer, creating one or merging several as needed. MergedCustomerIds lists
/// the customers this contact caused to be folded into CustomerId, so downstream state can fold with it. Details carry
/// what effort scores (the contact's id, transfers, measures, survey answer); identifiers stay with identity.
/// A contact whose only identifiers are shared by several customers is not attributed (identity holds it as ambiguous).
/// </summary>
public sealed record ContactAttributed(
    Guid Id,
    string TenantId,
    Guid ContactEventId,
    Guid CustomerId,
    string Channel,
    string Kind,
    DateTimeOffset OccurredAt,
    bool IsNewCustomer,
    IReadOnlyList<Guid> MergedCustomerIds,
    ContactDetails? Details = null);

/// <summary>The parts of a contact event that effort needs, as ingestion normalised them.</summary>
public sealed record ContactDetails(
    string Source,
    string ContactId,
    string Direction,
    string? Topic,
    string? InitialContactId,
    string? PreviousContactId,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    ContactMeasures? Measures,
    int? CesScore,
    string? Summary = null,
    string? Outcome = null,
    ContactPromise? Promise = null);

/// <summary>Identity found that several customers are one person and folded them into the survivor.</summary>
public sealed record CustomersMerged(
    Guid Id,
    string TenantId,
    Guid SurvivorId,
    IReadOnlyList<Guid> MergedIds,
    Guid CausedByContactEventId,
    DateTimeOffset MergedAt,
    IReadOnlyList<string>? IdentifierTypes = null);

/// <summary>
/// A platform source of a tenant went quiet for longer than the tenant's gap (Silent), or sent again after it had
/// (not Silent). Ingestion watches its sources; alerting tells the tenant's subscribers (source.silent, source.recovered).
/// </summary>
public sealed record SourceHealthChanged(
    Guid Id,
    string TenantId,
    string Source,
    bool Silent,
    DateTimeOffset? LastEventAt,
    DateTimeOffset ChangedAt,
    int SilentAfterSeconds);
