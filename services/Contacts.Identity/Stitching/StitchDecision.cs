namespace Contacts.Identity.Stitching;

/// <summary>Where an identifier stands in the tenant's index before the contact is stitched.</summary>
public abstract record IdentifierState
{
    private IdentifierState() { }

    public sealed record Unknown : IdentifierState;
    public sealed record Linked(Guid CustomerId) : IdentifierState;
    public sealed record Shared(IReadOnlyList<Guid> CustomerIds) : IdentifierState;
}

/// <summary>A customer an identifier points at: when it was created and the identifiers linked to it (shared ones excluded).</summary>
public sealed record CustomerState(Guid Id, DateTimeOffset CreatedAt, IReadOnlyList<(string Type, string Value)> Identifiers);

/// <summary>Another event of the same contact (same source and contact id), held as ambiguous among these candidates.</summary>
public sealed record HeldSibling(Guid ContactEventId, IReadOnlyList<Guid> CandidateIds, string Channel, string Kind, DateTimeOffset OccurredAt);

/// <summary>
/// What stitching one contact needs to know: its identifiers' index entries, the customers they touch, pairs split apart,
/// and the contact's other events: the customers they are attributed to, and those held as ambiguous.
/// </summary>
public sealed record StitchState(
    IReadOnlyDictionary<(string Type, string Value), IdentifierState> Index,
    IReadOnlyDictionary<Guid, CustomerState> Customers,
    IReadOnlySet<(Guid, Guid)> DistinctPairs,
    IReadOnlySet<Guid>? SameContactCustomers = null,
    IReadOnlyList<HeldSibling>? HeldSiblings = null)
{
    public static readonly StitchState Empty = new(new Dictionary<(string, string), IdentifierState>(), new Dictionary<Guid, CustomerState>(),
        new HashSet<(Guid, Guid)>());

    public IdentifierState StateOf(string type, string value) => Index.GetValueOrDefault((type, value)) ?? new IdentifierState.Unknown();

    public bool AreDistinct(Guid a, Guid b) => DistinctPairs.Contains((a, b)) || DistinctPairs.Contains((b, a));
}

/// <summary>What stitching decided; the shell turns each into stream events, projections and history rows.</summary>
public abstract record StitchOutcome
{
    private StitchOutcome() { }

    public sealed record Created(Guid CustomerId, string Rule) : StitchOutcome;
    public sealed record Linked(Guid CustomerId, string Type, string Value, string Rule) : StitchOutcome;
    public sealed record Merged(Guid SurvivorId, Guid MergedId, string Type, string Value, string Rule) : StitchOutcome;
    public sealed record Shared(string Type, string Value, IReadOnlyList<Guid> CustomerIds, string Rule) : StitchOutcome;
    public sealed record Kept(string Type, string Value, string Rule) : StitchOutcome;
    public sealed record Attached(Guid CustomerId, string? Type, string? Value, string Rule) : StitchOutcome;
    public sealed record HeldAmbiguous(IReadOnlyList<Guid> CandidateIds, string Rule) : StitchOutcome;
    /// <summary>Another event of the same contact, held as ambiguous, now goes to the customer this one settled among its candidates.</summary>
    public sealed record HeldResolved(HeldSibling Held, Guid CustomerId, string Rule) : StitchOutcome;
}

/// <summary>
/// Identity's decision, pure: given the customers a contact's identifiers touch, the contact and the tenant's rules,
/// which customer it belongs to and what changes.
/// <list type="bullet">
/// <item>Blocked or unplaceable identifiers are kept on the contact and never matched.</item>
/// <item>Identifiers are taken highest priority first; of equal priority, those nobody holds yet before known ones.</item>
/// <item>Identifiers nobody holds yet are the contact's own; past a type's limit (within the contact, or with the
/// customers already joined by higher-priority identifiers) they are kept on the contact only.</item>
/// <item>Identifiers held by a customer join that customer to the contact, unless the joined customer would then hold
/// more distinct values of a type than its limit, or the two were split apart: then the identifier does not merge and
/// is marked shared by its customer and the contact's.</item>
/// <item>No customer joined: a new one when the contact has identifiers of its own (or none usable at all); when its
/// only identifiers are shared, it goes to the one candidate its contact's other events are attributed to, and without
/// one it is held as ambiguous with the customers sharing them.</item>
/// <item>Once attributed, the contact's other events held as ambiguous with that customer among their candidates go to it
/// too: a later event of the same call or chat that names an identifier settles the earlier ones.</item>
/// <item>Several joined: all merge into the oldest (ties by id, so every instance agrees).</item>
/// </list>
/// </summary>
public static class StitchDecision
{
    public static IReadOnlyList<StitchOutcome> Decide(StitchState state, IReadOnlyList<IdentifierUse> identifiers, IdentityRules rules, Guid newCustomerId)
    {
        var outcomes = new List<StitchOutcome>();
        var ordered = identifiers.OrderBy(i => rules.RankOf(i.Type)).ThenBy(i => i.Type, StringComparer.Ordinal)
            .ThenBy(i => i.Value, StringComparer.Ordinal).ToList();
        outcomes.AddRange(ordered.Where(i => !i.Usable).Select(i => new StitchOutcome.Kept(i.Type, i.Value, i.KeptOnlyBecause!)));
        var usable = ordered.Where(i => i.Usable).ToList();

        // The values the contact's customer will hold, per type: first the contact's own, then each joined customer's.
        var values = new Dictionary<string, HashSet<string>>();
        bool Fits(IEnumerable<(string Type, string Value)> more, out string? broken)
        {
            foreach (var group in more.GroupBy(m => m.Type))
            {
                var count = values.GetValueOrDefault(group.Key, []).Union(group.Select(g => g.Value)).Count();
                if (count > rules.LimitOf(group.Key))
                {
                    broken = $"limit: at most {rules.LimitOf(group.Key)} {Public(group.Key)} per customer";
                    return false;
                }
            }
            broken = null;
            return true;
        }
        void Add(IEnumerable<(string Type, string Value)> more)
        {
            foreach (var (type, value) in more)
            {
                (values.TryGetValue(type, out var set) ? set : values[type] = []).Add(value);
            }
        }

        // In priority order, an identifier nobody holds yet after the known ones of higher priority: a returning customer
        // known by their CRM id who writes from a new email is joined by the CRM id, and the new email (over the limit)
        // stays on the contact only; of equal priority, the contact's own identifier is claimed first.
        var own = new List<IdentifierUse>();
        var joined = new List<(Guid CustomerId, IdentifierUse Via)>();
        var refused = new List<(IdentifierUse Identifier, Guid CustomerId, string Rule)>();
        foreach (var identifier in usable.OrderBy(i => rules.RankOf(i.Type)).ThenBy(i => state.StateOf(i.Type, i.Value) is IdentifierState.Unknown ? 0 : 1))
        {
            switch (state.StateOf(identifier.Type, identifier.Value))
            {
                case IdentifierState.Unknown:
                    if (Fits([(identifier.Type, identifier.Value)], out var broken))
                    {
                        Add([(identifier.Type, identifier.Value)]);
                        own.Add(identifier);
                    }
                    else
                    {
                        outcomes.Add(new StitchOutcome.Kept(identifier.Type, identifier.Value,
                            $"{broken} ({(joined.Count > 0 ? "its customer holds as many" : "this contact carries more")})"));
                    }
                    break;
                case IdentifierState.Linked(var customerId) when joined.All(j => j.CustomerId != customerId):
                    var customer = state.Customers[customerId];
                    if (joined.FirstOrDefault(j => state.AreDistinct(j.CustomerId, customerId)) is { CustomerId: var other } && other != Guid.Empty)
                    {
                        refused.Add((identifier, customerId, $"distinct: customer {customerId} was split from customer {other}"));
                    }
                    else if ((joined.Count > 0 || own.Count > 0) && !Fits(customer.Identifiers, out var over))
                    {
                        refused.Add((identifier, customerId, over!));
                    }
                    else
                    {
                        Add(customer.Identifiers);
                        joined.Add((customerId, identifier));
                    }
                    break;
            }
        }

        var sharedUses = usable.Where(i => state.StateOf(i.Type, i.Value) is IdentifierState.Shared).ToList();
        Guid target;
        if (joined.Count > 0)
        {
            var survivor = joined.Select(j => state.Customers[j.CustomerId]).OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).First();
            target = survivor.Id;
            foreach (var (mergedId, via) in joined.Where(j => j.CustomerId != target))
            {
                outcomes.Add(new StitchOutcome.Merged(target, mergedId, via.Type, via.Value, $"matched {Public(via.Type)}: one person"));
            }
            var first = joined.First(j => j.CustomerId == target).Via;
            outcomes.AddRange(own.Select(i => new StitchOutcome.Linked(target, i.Type, i.Value, "new identifier seen with this customer")));
            outcomes.Add(new StitchOutcome.Attached(target, first.Type, first.Value, $"matched {Public(first.Type)}"));
        }
        else if (own.Count > 0 || (sharedUses.Count == 0 && refused.Count == 0))
        {
            target = newCustomerId;
            var why = own.Count > 0 ? "no identifier matched a customer" : "no identifier that may be matched";
            outcomes.Add(new StitchOutcome.Created(target, why));
            outcomes.AddRange(own.Select(i => new StitchOutcome.Linked(target, i.Type, i.Value, "new identifier seen with this customer")));
            outcomes.Add(new StitchOutcome.Attached(target, own.FirstOrDefault()?.Type, own.FirstOrDefault()?.Value, why));
        }
        else
        {
            var candidates = sharedUses.SelectMany(i => ((IdentifierState.Shared)state.StateOf(i.Type, i.Value)).CustomerIds).Distinct().Order().ToList();
            if (candidates.Where(c => state.SameContactCustomers?.Contains(c) == true).ToList() is [var settled])
            {
                target = settled;
                outcomes.Add(new StitchOutcome.Attached(target, null, null, "same contact: its other events belong to this customer"));
            }
            else
            {
                outcomes.Add(new StitchOutcome.HeldAmbiguous(candidates,
                    $"ambiguous: only shared identifiers ({string.Join(", ", sharedUses.Select(i => Public(i.Type)).Distinct())})"));
                return outcomes;
            }
        }

        foreach (var held in state.HeldSiblings ?? [])
        {
            if (held.CandidateIds.Contains(target))
            {
                outcomes.Add(new StitchOutcome.HeldResolved(held, target, "same contact: a later event of it settled the candidates"));
            }
        }
        foreach (var (identifier, customerId, rule) in refused)
        {
            outcomes.Add(new StitchOutcome.Shared(identifier.Type, identifier.Value, [.. new[] { customerId, target }.Distinct().Order()], rule));
        }
        foreach (var identifier in sharedUses)
        {
            var sharers = ((IdentifierState.Shared)state.StateOf(identifier.Type, identifier.Value)).CustomerIds;
            if (!sharers.Contains(target))
            {
                outcomes.Add(new StitchOutcome.Shared(identifier.Type, identifier.Value, [.. sharers.Append(target).Distinct().Order()],
                    "shared: already shared, now also seen with this customer"));
            }
        }
        return outcomes;
    }

    private static string Public(string type) => Contacts.Identifiers.IdentifierTypes.PublicName(type);
}
