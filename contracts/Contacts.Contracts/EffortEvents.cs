using System.ComponentModel;
namespace Contacts.Contracts;

/// <summary>
/// The effort a customer's recent journey has cost them, 0 (effortless) to 100, with its reasons. Version is the
/// version of the customer's effort state the score was computed from, rising with every change: a consumer that has
/// seen a higher version for the customer ignores this one as stale. MergedCustomerIds names every customer whose contacts
/// this score includes because identity merged them into this one (directly or down a chain), so a consumer can fold
/// those merges before deciding on the score even when identity's CustomersMerged reaches it later.
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
    IReadOnlyList<Guid>? MergedCustomerIds = null);

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
