namespace Contacts.Contracts;

/// <summary>
/// Identity reverted a merge: RestoredCustomerId is a customer of its own again. The two lists give every contact event
/// each customer now holds, so downstream state (journeys, scores, alerts) can be recomputed for both.
/// </summary>
public sealed record CustomerSplit(
    Guid Id,
    string TenantId,
    Guid CustomerId,
    Guid RestoredCustomerId,
    IReadOnlyList<Guid> CustomerContactEventIds,
    IReadOnlyList<Guid> RestoredContactEventIds,
    DateTimeOffset SplitAt);

/// <summary>
/// A customer was forgotten (right to erasure). Every service deletes what it holds of CustomerId, of the customers
/// once merged into it (FormerCustomerIds) and of the listed contact events, exactly once.
/// </summary>
public sealed record CustomerErased(
    Guid Id,
    string TenantId,
    Guid CustomerId,
    IReadOnlyList<Guid> FormerCustomerIds,
    IReadOnlyList<Guid> ContactEventIds,
    DateTimeOffset ErasedAt);
