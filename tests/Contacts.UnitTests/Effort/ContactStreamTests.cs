using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.Messaging.EventStore;

namespace Contacts.UnitTests;

/// <summary>
/// Given a customer's stream events (and those of the customers merged into it), when its history is folded, then it
/// holds each contact once, without what a split moved away or an erasure forgot; and given a split, each listed contact
/// moves to its side once.
/// </summary>
public sealed class ContactStreamTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly Guid Ana = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid Ben = Guid.Parse("00000000-0000-0000-0000-00000000000b");
    private static readonly Guid Cai = Guid.Parse("00000000-0000-0000-0000-00000000000c");

    private static ContactEvent Contact(int n) =>
        new(Guid.Parse($"00000000-0000-0000-0001-{n:000000000000}"), "pbx", $"c{n}", "voice", "inbound", "ended", T0.AddHours(n));

    [Fact]
    public void A_redelivered_contact_counts_once_and_a_moved_or_erased_one_not_at_all()
    {
        object[] stream =
        [
            new ContactReceived(Contact(1)), new ContactReceived(Contact(2)), new ContactReceived(Contact(1)),
            new ContactReceived(Contact(3)), new ContactMovedOut(Contact(2).EventId, Ben), new ContactErased(Contact(3).EventId),
            new MergedInto(Cai),
        ];

        Assert.Equal([Contact(1)], ContactStream.Held(stream));
    }

    [Fact]
    public void A_contact_received_again_after_it_moved_away_stays_away()
    {
        object[] stream = [new ContactReceived(Contact(1)), new ContactMovedOut(Contact(1).EventId, Ben), new ContactReceived(Contact(1))];

        Assert.Empty(ContactStream.Held(stream));
    }

    [Fact]
    public void A_history_joins_the_streams_merged_in_oldest_first()
    {
        object[] ana = [new ContactReceived(Contact(3)), new CustomerAbsorbed(Ben), new ContactMovedIn(Contact(2), Cai)];
        object[] ben = [new ContactReceived(Contact(1)), new ContactReceived(Contact(3)), new MergedInto(Ana)];

        Assert.Equal([Contact(1), Contact(2), Contact(3)], ContactStream.History([ana, ben]));
    }

    [Fact]
    public void A_split_moves_each_listed_contact_held_on_the_other_side_and_leaves_the_rest_where_its_stream_goes()
    {
        // Ana absorbed Ben, and Cai was merged into Ben: Ben's side keeps Ben's and Cai's streams.
        (Guid, ContactEvent)[] located = [(Ana, Contact(1)), (Ana, Contact(2)), (Ben, Contact(3)), (Cai, Contact(4)), (Ben, Contact(5))];

        var plan = ContactStream.Split(Ana, Ben, located, new HashSet<Guid> { Ben, Cai }, [Contact(1).EventId, Contact(3).EventId],
            [Contact(2).EventId, Contact(4).EventId]);

        Assert.Equal([Contact(1), Contact(3)], plan.Survivor);
        Assert.Equal([Contact(2), Contact(4), Contact(5)], plan.Restored);
        Assert.Equal([new MergeUndone(Ana, Ben), new ContactMovedIn(Contact(3), Ben), new ContactMovedOut(Contact(2).EventId, Ben)], plan.Appends[Ana]);
        Assert.Equal([new MergeUndone(Ana, Ben), new ContactMovedOut(Contact(3).EventId, Ana), new ContactMovedIn(Contact(2), Ana)], plan.Appends[Ben]);
        Assert.False(plan.Appends.ContainsKey(Cai));
    }

    [Fact]
    public void A_contact_held_twice_leaves_the_wrong_side_from_every_copy_and_moves_in_only_where_no_copy_stays()
    {
        (Guid, ContactEvent)[] located = [(Ana, Contact(1)), (Ben, Contact(1)), (Ben, Contact(2)), (Cai, Contact(2))];

        var plan = ContactStream.Split(Ana, Ben, located, new HashSet<Guid> { Ben, Cai }, [Contact(1).EventId, Contact(2).EventId], []);

        Assert.Equal([Contact(1), Contact(2)], plan.Survivor);
        Assert.Empty(plan.Restored);
        Assert.Equal([new MergeUndone(Ana, Ben), new ContactMovedOut(Contact(1).EventId, Ana), new ContactMovedOut(Contact(2).EventId, Ana)],
            plan.Appends[Ben]);
        Assert.Equal([new ContactMovedOut(Contact(2).EventId, Ana)], plan.Appends[Cai]);
        Assert.Equal([new MergeUndone(Ana, Ben), new ContactMovedIn(Contact(2), Ben)], plan.Appends[Ana]);
    }

    [Fact]
    public void Given_the_split_is_applied_when_histories_are_folded_then_they_are_what_the_plan_said()
    {
        object[] ana = [new ContactReceived(Contact(1)), new ContactReceived(Contact(2)), new CustomerAbsorbed(Ben)];
        object[] ben = [new ContactReceived(Contact(3)), new MergedInto(Ana)];
        var located = new[] { (Ana, ana), (Ben, ben) }.SelectMany(s => ContactStream.Held(s.Item2).Select(c => (s.Item1, c))).ToList();

        var plan = ContactStream.Split(Ana, Ben, located, new HashSet<Guid> { Ben }, [Contact(1).EventId, Contact(3).EventId], [Contact(2).EventId]);

        Assert.Equal(plan.Survivor, ContactStream.History([[.. ana, .. plan.Appends[Ana]]]));
        Assert.Equal(plan.Restored, ContactStream.History([[.. ben, .. plan.Appends[Ben]]]));
    }

    [Fact]
    public void Stored_names_are_the_class_names_in_snake_case()
    {
        Assert.Equal(["contact_received", "contact_moved_in", "contact_moved_out", "contact_erased"], ContactStream.Folded.Keys);
        Assert.Equal("Contacts.Effort.Scoring.ContactReceived, Contacts.Effort", MartenEvents.ClassName(typeof(ContactReceived)));
    }
}
