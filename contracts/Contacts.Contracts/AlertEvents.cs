namespace Contacts.Contracts;

/// <summary>An open alert's score rose to a new escalation level (each level once per alert).</summary>
public sealed record AlertEscalated(
    Guid Id,
    string TenantId,
    Guid AlertId,
    Guid CustomerId,
    string Reason,
    int Level,
    int Score,
    IReadOnlyList<EffortDriver> Drivers,
    DateTimeOffset EscalatedAt);

/// <summary>Someone at the tenant acknowledged the alert: it stays active (it still rescored, escalates and resolves) but is being handled.</summary>
public sealed record AlertAcknowledged(
    Guid Id,
    string TenantId,
    Guid AlertId,
    Guid CustomerId,
    string Reason,
    DateTimeOffset AcknowledgedAt);

/// <summary>
/// The alert is over. Resolution: "manual" (resolved through the API), "score_below_threshold", "journey_closed" (the journey
/// that raised it is no longer the customer's open one), or "merged" (its customer was merged into one that already had an
/// alert for the reason: SupersededBy carries on).
/// </summary>
public sealed record AlertResolved(
    Guid Id,
    string TenantId,
    Guid AlertId,
    Guid CustomerId,
    string Reason,
    string Resolution,
    Guid? SupersededBy,
    DateTimeOffset ResolvedAt);
