using Contacts.Contracts;
using Contacts.Effort.Journeys;

namespace Contacts.Effort.Scoring;

/// <summary>
/// What a batch of attributed contacts is decided on, read in one round trip: the customers among them that were
/// erased, each tenant's settings, the snapshots of every customer the items name (and of the survivors those were
/// merged into), who was merged into whom below them (the customers each score names as absorbed), and the versions of
/// the streams of customers named that have a stream but no snapshot.
/// </summary>
public sealed record EffortBatchState(
    IReadOnlySet<Guid> Erased,
    IReadOnlyDictionary<string, EffortSettings> Settings,
    IReadOnlyDictionary<Guid, CustomerSnapshot> Snapshots,
    IReadOnlyDictionary<Guid, IReadOnlyList<Guid>> MergedIntoThem,
    IReadOnlyDictionary<Guid, long>? StreamsWithoutSnapshot = null);

/// <summary>
/// One customer's row as the batch leaves it, scored (with its evaluation) or merged away (without), and what its stream
/// gains (<see cref="ContactStream"/>), appended at the stream version it was read at.
/// </summary>
public sealed record CustomerWrite(
    Guid CustomerId, string TenantId, long? ExpectedVersion, long Version, Guid? MergedInto, IReadOnlyList<ContactEvent> Retained,
    CustomerEvaluation? Evaluation, Guid? LastEventId, long? StreamVersion, IReadOnlyList<object> Appended);

/// <summary>What a batch changes: one row (and its stream's new events) per customer touched, and each item's score (by index).</summary>
public sealed record EffortBatchDecision(IReadOnlyList<CustomerWrite> Customers, IReadOnlyList<(int Item, EffortScored Scored)> Scores);

/// <summary>
/// The pure core of a batch: each attributed contact folded in arrival order into its customer's state as the ones before
/// it left it, exactly as if each had come alone (a redelivered event changes nothing, merges fold the merged customers'
/// events into the survivor, an erased customer is not brought back), and what that changes written once per customer.
/// </summary>
public static class EffortBatch
{
    public static EffortBatchDecision Decide(EffortBatchState state, IReadOnlyList<ContactAttributed> items)
    {
        var customers = new Dictionary<Guid, Working>();
        var mergedIntoThem = new Dictionary<Guid, List<Guid>>();
        var scores = new List<(int, EffortScored)>();

        Working? Get(Guid id) =>
            customers.TryGetValue(id, out var working) ? working
            : state.Snapshots.TryGetValue(id, out var snapshot) ? customers[id] = Working.From(snapshot)
            : null;

        Working New(Guid id, string tenantId) =>
            Working.New(id, tenantId, state.StreamsWithoutSnapshot?.TryGetValue(id, out var version) == true ? version : null);

        Guid Follow(Guid id)
        {
            for (var hops = 0; hops < 100; hops++)
            {
                if (Get(id)?.MergedInto is not { } next)
                {
                    return id;
                }
                id = next;
            }
            throw new InvalidOperationException($"merge chain from {id} is too long");
        }

        List<Guid> Absorbed(Guid id)
        {
            var found = new List<Guid>();
            var seen = new HashSet<Guid> { id };
            var pending = new Stack<Guid>([id]);
            while (pending.TryPop(out var parent))
            {
                var below = (state.MergedIntoThem.TryGetValue(parent, out var stored) ? stored : [])
                    .Concat(mergedIntoThem.TryGetValue(parent, out var now) ? now : []);
                foreach (var child in below.Where(seen.Add))
                {
                    found.Add(child);
                    pending.Push(child);
                }
            }
            return found;
        }

        for (var index = 0; index < items.Count; index++)
        {
            var contact = items[index];
            if (state.Erased.Contains(contact.CustomerId))
            {
                continue; // the customer was forgotten; a late contact must not bring them back
            }
            var customerId = Follow(contact.CustomerId);
            var survivor = Get(customerId);
            var events = new List<ContactEvent>(survivor?.Events ?? []);
            var changes = new List<object>();
            foreach (var mergedId in contact.MergedCustomerIds.Where(id => id != customerId).Distinct())
            {
                var merged = Get(mergedId);
                if (merged?.MergedInto is not null)
                {
                    continue;
                }
                merged ??= customers[mergedId] = New(mergedId, contact.TenantId);
                events.AddRange(merged.Events);
                merged.MergeInto(customerId);
                changes.Add(new CustomerAbsorbed(mergedId));
                (mergedIntoThem.TryGetValue(customerId, out var list) ? list : mergedIntoThem[customerId] = []).Add(mergedId);
            }

            // Every event a snapshot holds is in its stream (or in the stream of a customer merged into it), so one already
            // in the snapshot is a redelivery; any other joins the customer's stream with the batch.
            var receivedEvent = ContactEvent.From(contact);
            if (events.All(e => e.EventId != receivedEvent.EventId))
            {
                events.Add(receivedEvent);
                changes.Add(new ContactReceived(receivedEvent));
            }
            if (changes.Count == 0)
            {
                continue;
            }
            events = [.. events.DistinctBy(e => e.EventId)];
            var settings = state.Settings[contact.TenantId];
            var evaluation = CustomerEffort.Evaluate(events, settings, CustomerEffort.LatestOf(events));
            survivor ??= customers[customerId] = New(customerId, contact.TenantId);
            survivor.Score(evaluation, contact.ContactEventId, changes);
            var saved = new EffortStore.Saved(survivor.Version, Absorbed(customerId));
            scores.Add((index, EffortStore.Scored(contact.TenantId, customerId, contact.ContactEventId, saved, evaluation)));
        }

        return new EffortBatchDecision([.. customers.Values.Where(c => c.Changed).Select(c => c.Write())], scores);
    }

    /// <summary>A customer's state while the batch is folded.</summary>
    private sealed class Working(Guid id, string tenantId, long? storedVersion, Guid? mergedInto, IReadOnlyList<ContactEvent> events, long? streamVersion)
    {
        private readonly List<object> _appended = [];
        private long _version = storedVersion ?? 0;
        private CustomerEvaluation? _evaluation;
        private Guid? _lastEventId;

        public Guid? MergedInto { get; private set; } = mergedInto;
        public IReadOnlyList<ContactEvent> Events { get; private set; } = events;
        public long Version => _version;
        public bool Changed { get; private set; }

        public static Working From(CustomerSnapshot snapshot) =>
            new(snapshot.CustomerId, snapshot.TenantId, snapshot.Version, snapshot.MergedInto, snapshot.Events, snapshot.StreamVersion);

        public static Working New(Guid id, string tenantId, long? streamVersion) => new(id, tenantId, null, null, [], streamVersion);

        /// <summary>Merged away: its events went to the survivor, its snapshot empties and its version rises.</summary>
        public void MergeInto(Guid survivor)
        {
            MergedInto = survivor;
            _appended.Add(new MergedInto(survivor));
            Events = [];
            _evaluation = null;
            _version++;
            Changed = true;
        }

        public void Score(CustomerEvaluation evaluation, Guid lastEventId, IReadOnlyList<object> changes)
        {
            _appended.AddRange(changes);
            MergedInto = null;
            Events = CustomerEffort.Retain(evaluation);
            _evaluation = evaluation;
            _lastEventId = lastEventId;
            _version++;
            Changed = true;
        }

        public CustomerWrite Write() =>
            new(id, tenantId, storedVersion, _version, MergedInto, Events, _evaluation, _lastEventId, streamVersion, [.. _appended]);
    }
}
