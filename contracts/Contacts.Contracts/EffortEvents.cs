namespace Contacts.Contracts;

/// <summary>The effort a customer's recent journey has cost them, 0 (effortless) to 100, with its reasons.</summary>
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
    DateTimeOffset WindowEnd);

/// <summary>One reason behind a score: which driver, how many points, and the evidence for it.</summary>
public sealed record EffortDriver(string Name, int Points, string Evidence);

/// <summary>A customer crossed an alert rule; CRMs receive it by webhook or by binding a queue to this exchange.</summary>
public sealed record HighEffortAlertRaised(
    Guid Id,
    string TenantId,
    Guid AlertId,
    Guid CustomerId,
    string Reason,
    int Score,
    IReadOnlyList<EffortDriver> Drivers,
    Guid ContactEventId,
    DateTimeOffset RaisedAt);
