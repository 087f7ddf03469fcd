using Contacts.Identity.Stitching;

namespace Contacts.UnitTests;

public sealed class MatchDecisionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void No_match_creates_a_customer() => Assert.IsType<MatchDecision.CreateCustomer>(MatchDecision.Decide([]));

    [Fact]
    public void One_customer_matched_by_several_identifiers_is_an_attach()
    {
        var id = Guid.NewGuid();
        var decision = MatchDecision.Decide([new(id, T0), new(id, T0)]);
        Assert.Equal(new MatchDecision.Attach(id), decision);
    }

    [Fact]
    public void Several_customers_merge_into_the_oldest()
    {
        var (oldest, middle, newest) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var decision = Assert.IsType<MatchDecision.Merge>(MatchDecision.Decide([new(newest, T0.AddDays(2)), new(oldest, T0), new(middle, T0.AddDays(1))]));
        Assert.Equal(oldest, decision.SurvivorId);
        Assert.Equal([middle, newest], decision.MergedIds);
    }

    [Fact]
    public void Ties_on_creation_time_are_broken_by_id_so_every_instance_agrees()
    {
        var a = Guid.Parse("00000000-0000-0000-0000-000000000001");
        var b = Guid.Parse("00000000-0000-0000-0000-000000000002");
        var first = Assert.IsType<MatchDecision.Merge>(MatchDecision.Decide([new(b, T0), new(a, T0)]));
        var second = Assert.IsType<MatchDecision.Merge>(MatchDecision.Decide([new(a, T0), new(b, T0)]));
        Assert.Equal(a, first.SurvivorId);
        Assert.Equal(first.SurvivorId, second.SurvivorId);
    }
}
