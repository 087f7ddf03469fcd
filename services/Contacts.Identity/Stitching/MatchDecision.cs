namespace Contacts.Identity.Stitching;

/// <summary>A customer an identifier of the incoming contact already points at.</summary>
public sealed record CustomerMatch(Guid CustomerId, DateTimeOffset CreatedAt);

/// <summary>What to do with a contact, decided from the customers its identifiers match.</summary>
public abstract record MatchDecision
{
    private MatchDecision() { }

    public sealed record CreateCustomer : MatchDecision;
    public sealed record Attach(Guid CustomerId) : MatchDecision;
    public sealed record Merge(Guid SurvivorId, IReadOnlyList<Guid> MergedIds) : MatchDecision;

    /// <summary>No match creates a customer, one attaches, several merge into the oldest (ties broken by id, so every instance agrees).</summary>
    public static MatchDecision Decide(IReadOnlyCollection<CustomerMatch> matches)
    {
        var distinct = matches.DistinctBy(m => m.CustomerId).OrderBy(m => m.CreatedAt).ThenBy(m => m.CustomerId).ToList();
        return distinct.Count switch
        {
            0 => new CreateCustomer(),
            1 => new Attach(distinct[0].CustomerId),
            _ => new Merge(distinct[0].CustomerId, [.. distinct.Skip(1).Select(m => m.CustomerId)]),
        };
    }
}
