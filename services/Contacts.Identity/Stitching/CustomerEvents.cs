using Contacts.Contracts;

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

/// <summary>Names the customer streams (mt_streams.type): nothing folds them back; identity reads its tables, which the same round trip writes.</summary>
public sealed class Customer;

/// <summary>What each customer's stream records of one stitched contact: the events Stitcher appends, from the decision's outcomes alone.</summary>
public static class CustomerStreams
{
    public static Dictionary<Guid, List<object>> EventsOf(ContactEventReceived contact, IReadOnlyList<StitchOutcome> outcomes)
    {
        var streams = new Dictionary<Guid, List<object>>();
        void Event(Guid customerId, object e) => (streams.TryGetValue(customerId, out var list) ? list : streams[customerId] = []).Add(e);
        foreach (var outcome in outcomes)
        {
            switch (outcome)
            {
                case StitchOutcome.Created(var id, _):
                    Event(id, new CustomerCreated(id, contact.TenantId, contact.Id));
                    break;
                case StitchOutcome.Merged(var survivor, var mergedId, _, _, _):
                    Event(mergedId, new CustomerMergedInto(survivor, contact.Id));
                    Event(survivor, new CustomersAbsorbed([mergedId], contact.Id));
                    break;
                case StitchOutcome.Linked(var id, var type, var value, _):
                    Event(id, new IdentifierLinked(type, value, contact.Id));
                    break;
                case StitchOutcome.Attached(var id, _, _, _):
                    Event(id, new ContactAttached(contact.Id, contact.Channel, contact.Kind, contact.OccurredAt));
                    break;
                case StitchOutcome.Shared(var type, var value, var ids, var rule):
                    foreach (var id in ids)
                    {
                        Event(id, new IdentifierShared(type, value, ids, contact.Id, rule));
                    }
                    break;
                case StitchOutcome.HeldAmbiguous(var ids, var rule):
                    foreach (var id in ids)
                    {
                        Event(id, new ContactHeldAmbiguous(contact.Id, ids, rule));
                    }
                    break;
                case StitchOutcome.HeldResolved(var held, var id, _):
                    Event(id, new ContactAttached(held.ContactEventId, held.Channel, held.Kind, held.OccurredAt));
                    break;
            }
        }
        return streams;
    }
}
