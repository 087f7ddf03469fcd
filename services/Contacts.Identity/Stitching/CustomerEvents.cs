using Contacts.ServiceDefaults.EventStore;

namespace Contacts.Identity.Stitching;

// The customer stream: every link, share, merge and split is an event with its evidence, so a bad merge can be audited and reverted.
public sealed record CustomerCreated(Guid CustomerId, string TenantId, Guid ContactEventId);
public sealed record IdentifierLinked(string Type, string Value, Guid ContactEventId);
public sealed record ContactAttached(Guid ContactEventId, string Channel, string Kind, DateTimeOffset OccurredAt);
public sealed record CustomerMergedInto(Guid SurvivorId, Guid ContactEventId);
public sealed record CustomersAbsorbed(IReadOnlyList<Guid> MergedIds, Guid ContactEventId);
public sealed record IdentifierShared(string Type, string Value, IReadOnlyList<Guid> CustomerIds, Guid ContactEventId, string Rule);
public sealed record ContactHeldAmbiguous(Guid ContactEventId, IReadOnlyList<Guid> CandidateIds, string Rule);
public sealed record MergeReverted(Guid SurvivorId, Guid RestoredId, IReadOnlyList<Guid> SurvivorContactEventIds, IReadOnlyList<Guid> RestoredContactEventIds);

public static class CustomerEvents
{
    public static readonly Type[] Types =
    [
        typeof(CustomerCreated), typeof(IdentifierLinked), typeof(ContactAttached), typeof(CustomerMergedInto), typeof(CustomersAbsorbed),
        typeof(IdentifierShared), typeof(ContactHeldAmbiguous), typeof(MergeReverted),
    ];
}

/// <summary>A customer as its stream tells it.</summary>
public sealed class Customer : IAggregate
{
    public Guid Id { get; set; }
    public long Version { get; set; }
    public string TenantId { get; private set; } = "";
    public Guid? MergedInto { get; private set; }
    public HashSet<(string Type, string Value)> Identifiers { get; } = [];
    public HashSet<(string Type, string Value)> SharedIdentifiers { get; } = [];
    public List<Guid> Contacts { get; } = [];
    public List<Guid> Absorbed { get; } = [];

    public void Apply(CustomerCreated e) => TenantId = e.TenantId;
    public void Apply(IdentifierLinked e) => Identifiers.Add((e.Type, e.Value));
    public void Apply(ContactAttached e) => Contacts.Add(e.ContactEventId);
    public void Apply(CustomerMergedInto e) => MergedInto = e.SurvivorId;
    public void Apply(CustomersAbsorbed e) => Absorbed.AddRange(e.MergedIds);

    public void Apply(IdentifierShared e)
    {
        Identifiers.Remove((e.Type, e.Value));
        SharedIdentifiers.Add((e.Type, e.Value));
    }

    public void Apply(MergeReverted e)
    {
        if (e.RestoredId == Id)
        {
            MergedInto = null;
        }
        else
        {
            Absorbed.Remove(e.RestoredId);
        }
    }
}
