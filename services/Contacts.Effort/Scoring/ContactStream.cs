using Contacts.Effort.Journeys;
using Contacts.Messaging.EventStore;

namespace Contacts.Effort.Scoring;

// A customer's stream in effort's event store: the contacts scored for it, who was merged into it and where it went.
// Its contacts are what it received or took over in a split, less what a split moved away or an erasure forgot; a
// customer's whole history is its stream's contacts and those of every customer merged into it (down chains), read
// together (EffortStore.Histories). A merge copies nothing: the merged stream stays where it is, under the survivor.

/// <summary>A contact scored for this customer.</summary>
public sealed record ContactReceived(ContactEvent Contact);

/// <summary>This customer was merged into the survivor: its contacts count for the survivor from now on.</summary>
public sealed record MergedInto(Guid SurvivorId);

/// <summary>A customer was merged into this one (its stream records that side of the merge).</summary>
public sealed record CustomerAbsorbed(Guid MergedId);

/// <summary>A split gave this customer a contact held in another customer's stream.</summary>
public sealed record ContactMovedIn(ContactEvent Contact, Guid FromCustomerId);

/// <summary>A split gave one of this stream's contacts to another customer.</summary>
public sealed record ContactMovedOut(Guid ContactEventId, Guid ToCustomerId);

/// <summary>A merge into the survivor was undone (recorded on both sides).</summary>
public sealed record MergeUndone(Guid SurvivorId, Guid RestoredId);

/// <summary>What an erasure left of a contact of an erased customer that sat in another customer's stream: its id alone.</summary>
public sealed record ContactErased(Guid ContactEventId);

/// <summary>Names effort's customer streams (mt_streams.type).</summary>
public sealed class CustomerContacts;

public static class ContactStream
{
    public static readonly Type[] Types =
    [
        typeof(ContactReceived), typeof(MergedInto), typeof(CustomerAbsorbed), typeof(ContactMovedIn), typeof(ContactMovedOut),
        typeof(MergeUndone), typeof(ContactErased),
    ];

    /// <summary>The events a history is folded from, by the name Marten stores them under (ContactReceived: contact_received).</summary>
    public static readonly IReadOnlyDictionary<string, Type> Folded =
        new[] { typeof(ContactReceived), typeof(ContactMovedIn), typeof(ContactMovedOut), typeof(ContactErased) }.ToDictionary(MartenEvents.TypeName);

    /// <summary>
    /// The contacts one stream holds, from its events in order: a contact received again (a redelivery) counts once, one
    /// moved out or erased no longer counts, one moved in counts.
    /// </summary>
    public static IReadOnlyList<ContactEvent> Held(IEnumerable<object> stream)
    {
        var held = new Dictionary<Guid, ContactEvent>();
        var seen = new HashSet<Guid>();
        foreach (var e in stream)
        {
            switch (e)
            {
                case ContactReceived(var contact) when seen.Add(contact.EventId):
                    held[contact.EventId] = contact;
                    break;
                case ContactMovedIn(var contact, _):
                    seen.Add(contact.EventId);
                    held[contact.EventId] = contact;
                    break;
                case ContactMovedOut(var id, _):
                    held.Remove(id);
                    break;
                case ContactErased(var id):
                    held.Remove(id);
                    break;
            }
        }
        return [.. held.Values];
    }

    /// <summary>A customer's history: the contacts its streams hold (its own and those merged into it), oldest first.</summary>
    public static List<ContactEvent> History(IEnumerable<IEnumerable<object>> streams) =>
        [.. streams.SelectMany(Held).DistinctBy(e => e.EventId).OrderBy(e => e.OccurredAt).ThenBy(e => e.EventId)];

    /// <summary>What a split appends to each stream, and each side's history once it is done.</summary>
    public sealed record SplitPlan(Dictionary<Guid, List<object>> Appends, List<ContactEvent> Survivor, List<ContactEvent> Restored);

    /// <summary>
    /// A split of the restored customer out of the survivor, given the contacts both held before it (each with the stream
    /// holding it; a contact received twice may sit in two) and the streams that stay with the restored side (its own and
    /// those merged into it). Each contact identity listed for a side and held in a stream of the other side moves: out of
    /// every such stream, into the side's own (unless a copy already stays on that side). Any other contact stays with the
    /// side of its stream. Both sides record the split.
    /// </summary>
    public static SplitPlan Split(Guid survivorId, Guid restoredId, IReadOnlyList<(Guid Holder, ContactEvent Contact)> located,
        IReadOnlySet<Guid> restoredSide, IEnumerable<Guid> survivorContacts, IEnumerable<Guid> restoredContacts)
    {
        var appends = new Dictionary<Guid, List<object>>
        {
            [survivorId] = [new MergeUndone(survivorId, restoredId)],
            [restoredId] = [new MergeUndone(survivorId, restoredId)],
        };
        void Add(Guid stream, object e) => (appends.TryGetValue(stream, out var list) ? list : appends[stream] = []).Add(e);
        Guid SideOf(Guid holder) => restoredSide.Contains(holder) ? restoredId : survivorId;
        var copies = located.GroupBy(l => l.Contact.EventId)
            .ToDictionary(g => g.Key, g => (g.First().Contact, Holders: g.Select(l => l.Holder).Distinct().ToList()));
        foreach (var (side, ids) in new[] { (survivorId, survivorContacts), (restoredId, restoredContacts) })
        {
            foreach (var id in ids.Distinct().Where(copies.ContainsKey))
            {
                var (contact, holders) = copies[id];
                var wrong = holders.Where(h => SideOf(h) != side).ToList();
                foreach (var holder in wrong)
                {
                    Add(holder, new ContactMovedOut(id, side));
                    holders.Remove(holder);
                }
                if (wrong.Count > 0 && holders.Count == 0)
                {
                    Add(side, new ContactMovedIn(contact, wrong[0]));
                    holders.Add(side);
                }
            }
        }
        List<ContactEvent> Of(Guid side) =>
            [.. copies.Values.Where(c => c.Holders.Any(h => SideOf(h) == side)).Select(c => c.Contact).OrderBy(e => e.OccurredAt).ThenBy(e => e.EventId)];
        return new SplitPlan(appends, Of(survivorId), Of(restoredId));
    }
}
