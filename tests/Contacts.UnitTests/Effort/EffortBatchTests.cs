using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;

namespace Contacts.UnitTests;

/// <summary>
/// Given the stored state and a batch of attributed contacts, when the batch is decided as a set, then each customer is
/// written once, and every score, version, stream event and merge is what deciding the contacts one at a time gives.
/// </summary>
public sealed class EffortBatchTests
{
    private const string Tenant = "acme";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly Guid Ana = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid Ben = Guid.Parse("00000000-0000-0000-0000-00000000000b");
    private static readonly Guid Cai = Guid.Parse("00000000-0000-0000-0000-00000000000c");

    private static ContactAttributed Contact(Guid customer, string channel, double hours, params Guid[] merged) =>
        Contact(Guid.NewGuid(), customer, channel, hours, merged);

    private static ContactAttributed Contact(Guid eventId, Guid customer, string channel, double hours, params Guid[] merged) =>
        new(Guid.NewGuid(), Tenant, eventId, customer, channel, "message", T0.AddHours(hours), false, merged,
            new ContactDetails("pbx", eventId.ToString("N"), "inbound", "billing", null, null, null, null, null, null));

    private static EffortBatchState Empty() => new(new HashSet<Guid>(), new Dictionary<string, EffortSettings> { [Tenant] = new() },
        new Dictionary<Guid, CustomerSnapshot>(), new Dictionary<Guid, IReadOnlyList<Guid>>());

    [Fact]
    public void Two_contacts_of_a_new_customer_in_one_batch_write_the_customer_once_and_score_each_at_its_own_version()
    {
        var decision = EffortBatch.Decide(Empty(), [Contact(Ana, "voice", 0), Contact(Ana, "email", 1)]);

        var row = Assert.Single(decision.Customers);
        Assert.Equal((Ana, (long?)null, 2L), (row.CustomerId, row.ExpectedVersion, row.Version));
        Assert.Equal(2, row.Retained.Count);
        Assert.Equal([1L, 2L], decision.Scores.Select(s => s.Scored.Version));
        Assert.Equal([1, 2], decision.Scores.Select(s => s.Scored.ContactsInWindow));
        Assert.True(decision.Scores[1].Scored.Score > decision.Scores[0].Scored.Score, "a second contact on another channel costs effort");
        Assert.Equal(2, row.Appended.OfType<ContactReceived>().Count());
        Assert.Null(row.StreamVersion);
    }

    [Fact]
    public void A_redelivered_event_the_snapshot_already_holds_changes_nothing()
    {
        var first = Contact(Ana, "voice", 0);
        var state = Apply(Empty(), EffortBatch.Decide(Empty(), [first]));

        var decision = EffortBatch.Decide(state, [first with { Id = Guid.NewGuid() }]);

        Assert.Empty(decision.Customers);
        Assert.Empty(decision.Scores);
    }

    [Fact]
    public void A_contact_of_an_erased_customer_does_not_bring_them_back()
    {
        var state = Empty() with { Erased = new HashSet<Guid> { Ana } };

        var decision = EffortBatch.Decide(state, [Contact(Ana, "voice", 0), Contact(Ben, "voice", 0)]);

        Assert.Equal([Ben], decision.Customers.Select(c => c.CustomerId));
        Assert.Equal([1], decision.Scores.Select(s => s.Item));
    }

    [Fact]
    public void A_merge_inside_the_batch_folds_the_merged_customer_into_the_survivor_and_later_contacts_of_the_merged_id_count_for_it()
    {
        var decision = EffortBatch.Decide(Empty(),
            [Contact(Ben, "voice", 0), Contact(Ana, "email", 1, Ben), Contact(Ben, "chat", 2)]);

        var ben = Assert.Single(decision.Customers, c => c.CustomerId == Ben);
        Assert.Equal((Ana, 2L), (ben.MergedInto!.Value, ben.Version));
        Assert.Empty(ben.Retained);
        Assert.IsType<ContactReceived>(ben.Appended[0]);
        Assert.Equal(new MergedInto(Ana), ben.Appended[1]);
        var ana = Assert.Single(decision.Customers, c => c.CustomerId == Ana);
        Assert.Equal(3, ana.Retained.Count);
        Assert.Equal([typeof(CustomerAbsorbed), typeof(ContactReceived), typeof(ContactReceived)], ana.Appended.Select(e => e.GetType()));
        Assert.Equal(new CustomerAbsorbed(Ben), ana.Appended[0]);
        var last = decision.Scores[^1].Scored;
        Assert.Equal((Ana, 3, 2L), (last.CustomerId, last.ContactsInWindow, last.Version));
        Assert.Equal([Ben], last.MergedCustomerIds!);
    }

    [Fact]
    public void A_stored_merge_chain_is_followed_to_its_survivor_and_named_as_absorbed()
    {
        var state = Empty() with
        {
            Snapshots = new Dictionary<Guid, CustomerSnapshot>
            {
                [Cai] = new(Cai, Tenant, 3, Ben, [], 3),
                [Ben] = new(Ben, Tenant, 2, Ana, [], 2),
            },
            MergedIntoThem = new Dictionary<Guid, IReadOnlyList<Guid>> { [Ana] = [Ben], [Ben] = [Cai] },
        };

        var decision = EffortBatch.Decide(state, [Contact(Cai, "voice", 0)]);

        var scored = Assert.Single(decision.Scores).Scored;
        Assert.Equal(Ana, scored.CustomerId);
        Assert.Equal([Ben, Cai], scored.MergedCustomerIds!.Order());
        Assert.Equal((Ana, (long?)null), (Assert.Single(decision.Customers).CustomerId, decision.Customers[0].ExpectedVersion));
    }

    [Fact]
    public void A_customer_with_a_stream_and_no_snapshot_appends_to_its_stream_at_the_version_read()
    {
        var state = Empty() with { StreamsWithoutSnapshot = new Dictionary<Guid, long> { [Ben] = 1 } };

        var decision = EffortBatch.Decide(state, [Contact(Ben, "voice", 0)]);

        var ben = Assert.Single(decision.Customers);
        Assert.Equal(((long?)null, (long?)1), (ben.ExpectedVersion, ben.StreamVersion));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Given_any_sequence_of_contacts_merges_and_redeliveries_when_decided_as_one_batch_then_it_ends_as_one_at_a_time_does(int seed)
    {
        var random = new Random(seed);
        Guid[] people = [Ana, Ben, Cai, Guid.NewGuid(), Guid.NewGuid()];
        string[] channels = ["voice", "email", "chat", "sms"];
        var items = new List<ContactAttributed>();
        for (var i = 0; i < 40; i++)
        {
            if (items.Count > 0 && random.Next(8) == 0)
            {
                items.Add(items[random.Next(items.Count)] with { Id = Guid.NewGuid() }); // a redelivery
                continue;
            }
            var customer = people[random.Next(people.Length)];
            Guid[] merged = random.Next(6) == 0 ? [people[random.Next(people.Length)]] : [];
            items.Add(Contact(customer, channels[random.Next(channels.Length)], random.NextDouble() * 72, merged));
        }

        var one = Empty();
        var oneStreams = new Dictionary<Guid, List<object>>();
        var oneScores = new List<EffortScored>();
        foreach (var item in items)
        {
            var decision = EffortBatch.Decide(one, [item]);
            one = Apply(one, decision);
            Append(oneStreams, decision);
            oneScores.AddRange(decision.Scores.Select(s => s.Scored));
        }
        var whole = EffortBatch.Decide(Empty(), items);
        var set = Apply(Empty(), whole);
        var setStreams = new Dictionary<Guid, List<object>>();
        Append(setStreams, whole);

        Assert.Contains(set.Snapshots.Values, s => s.MergedInto is not null);
        Assert.Equal(Describe(one), Describe(set));
        Assert.Equal(Histories(one, oneStreams), Histories(set, setStreams));
        Assert.Equal(oneScores.Select(Describe), whole.Scores.Select(s => Describe(s.Scored)));
        Assert.Equal(whole.Customers.Count, whole.Customers.Select(c => c.CustomerId).Distinct().Count());
    }

    /// <summary>What the store holds after a decision is written (the shell's part, done in memory).</summary>
    private static EffortBatchState Apply(EffortBatchState state, EffortBatchDecision decision)
    {
        var snapshots = new Dictionary<Guid, CustomerSnapshot>(state.Snapshots);
        var below = state.MergedIntoThem.ToDictionary(b => b.Key, b => b.Value.ToList());
        foreach (var write in decision.Customers)
        {
            Assert.Equal(snapshots.TryGetValue(write.CustomerId, out var before) ? before.Version : null, write.ExpectedVersion);
            Assert.Equal(before?.StreamVersion, write.StreamVersion);
            snapshots[write.CustomerId] = new CustomerSnapshot(write.CustomerId, write.TenantId, write.Version, write.MergedInto, write.Retained,
                (write.StreamVersion ?? 0) + write.Appended.Count);
            if (write.MergedInto is { } parent)
            {
                (below.TryGetValue(parent, out var list) ? list : below[parent] = []).Add(write.CustomerId);
            }
        }
        return state with { Snapshots = snapshots, MergedIntoThem = below.ToDictionary(b => b.Key, b => (IReadOnlyList<Guid>)b.Value) };
    }

    /// <summary>What the event store holds after a decision is written: each customer's stream.</summary>
    private static void Append(Dictionary<Guid, List<object>> streams, EffortBatchDecision decision)
    {
        foreach (var write in decision.Customers)
        {
            (streams.TryGetValue(write.CustomerId, out var list) ? list : streams[write.CustomerId] = []).AddRange(write.Appended);
        }
    }

    /// <summary>Each surviving customer's history: its stream's contacts and those of the streams merged under it.</summary>
    private static string Histories(EffortBatchState state, Dictionary<Guid, List<object>> streams)
    {
        IEnumerable<Guid> Tree(Guid id) => state.MergedIntoThem.TryGetValue(id, out var below) ? below.SelectMany(Tree).Prepend(id) : [id];
        return string.Join("; ", state.Snapshots.Values.Where(s => s.MergedInto is null).OrderBy(s => s.CustomerId).Select(s =>
            $"{s.CustomerId}: {string.Join(",", ContactStream.History(Tree(s.CustomerId).Where(streams.ContainsKey).Select(id => streams[id])).Select(e => e.EventId))}"));
    }

    private static string Describe(EffortBatchState state) => string.Join("; ", state.Snapshots.Values.OrderBy(s => s.CustomerId)
        .Select(s => $"{s.CustomerId} v{s.Version} into {s.MergedInto} [{string.Join(",", s.Events.Select(e => e.EventId))}]"));

    private static string Describe(EffortScored s) =>
        $"{s.CustomerId} {s.ContactEventId} v{s.Version} score {s.Score} contacts {s.ContactsInWindow} channels {s.ChannelsInWindow} " +
        $"drivers {string.Join(",", s.Drivers.Select(d => d.Name))} absorbed {string.Join(",", (s.MergedCustomerIds ?? []).Order())}";
}
