using System.ComponentModel;

namespace Contacts.Contracts;

/// <summary>
/// The effort a customer's recent journey has cost them, 0 (effortless) to 100, with its reasons. Version is the
/// version of the customer's effort state the score was computed from, rising with every change: a consumer that has
/// seen a higher version for the customer ignores this one as stale. MergedCustomerIds names every customer whose contacts
/// this score includes because identity merged them into this one (directly or down a chain), so a consumer can fold
/// those merges before deciding on the score even when identity's CustomersMerged reaches it later. Split is set on
/// effort's re-score of either side after identity split a customer: a consumer that has not seen that split yet applies
/// it before deciding on the score (identity's CustomerSplit travels apart and may arrive later).
/// </summary>
public sealed record EffortScored(
    Guid Id,
    string TenantId,
    Guid CustomerId,
    Guid ContactEventId,
    int Score,
    int ContactsInWindow,
    int ChannelsInWindow,
    IReadOnlyList<EffortDriver> Drivers,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    long Version = 0,
    Guid? JourneyId = null,
    string? Topic = null,
    IReadOnlyList<string>? Channels = null,
    IReadOnlyList<Guid>? MergedCustomerIds = null,
    CustomerSplit? Split = null);

/// <summary>
/// One reason behind a score: which driver, how many points, and the evidence for it (the contacts that showed it and
/// the measured value, such as seconds on hold).
/// </summary>
public sealed record EffortDriver(
    string Name,
    int Points,
    string Evidence,
    [property: Description("The contacts that showed the driver (source:contactId).")] IReadOnlyList<string>? ContactIds = null,
    [property: Description("The measured value: repeats, switches, transfers, longest seconds, count, or the CES answer.")] double? Value = null);

/// <summary>
/// A customer crossed an alert rule; CRMs receive it by webhook or by binding a queue to this exchange. Level is the
/// escalation level the score reached; JourneyId, Topic and Channels describe the journey that raised it.
/// </summary>
public sealed record HighEffortAlertRaised(
    Guid Id,
    string TenantId,
    Guid AlertId,
    Guid CustomerId,
    string Reason,
    int Score,
    IReadOnlyList<EffortDriver> Drivers,
    Guid ContactEventId,
    DateTimeOffset RaisedAt,
    int Level = 0,
    Guid? JourneyId = null,
    string? Topic = null,
    IReadOnlyList<string>? Channels = null);

/// <summary>
/// What one pass of effort's moment watch announced for one tenant, in one message: alerting takes it in one transaction
/// (a message per moment would cost a transaction per contact).
/// </summary>
public sealed record MomentsAnnounced(Guid Id, string TenantId, IReadOnlyList<MomentOfMisery> Misery, IReadOnlyList<LedgerBalanceLow> BalanceLow);

/// <summary>
/// A contact of the customer became a moment of misery for the first time (effort's moment watch): once per contact,
/// whatever merges and splits follow; a contact older than the journey window (a backfill) raises none. Reasons as
/// effort names them (promise_broken, unresolved_repeat, abandoned_after_long_wait, transferred). ContactEventId: one
/// of the contact's events, so an alert it raises goes with the contact on a split.
/// </summary>
public sealed record MomentOfMisery(
    Guid Id,
    string TenantId,
    Guid CustomerId,
    string ContactId,
    Guid ContactEventId,
    IReadOnlyList<string> Reasons,
    DateTimeOffset At,
    int Balance,
    DateTimeOffset DecidedAt);

/// <summary>The customer's loyalty account fell below the tenant's floor: once per crossing (it must rise to the floor again before the next).</summary>
public sealed record LedgerBalanceLow(
    Guid Id,
    string TenantId,
    Guid CustomerId,
    int Balance,
    int Floor,
    string ContactId,
    string Reason,
    DateTimeOffset At,
    DateTimeOffset DecidedAt);
