using Contacts.Ingestion.Sources;
using Microsoft.Extensions.Time.Testing;

namespace Contacts.UnitTests.Ingestion;

/// <summary>Source counts gathered in memory: per tenant, source and hour, taken once, put back when they could not be written.</summary>
public sealed class SourceActivityTests
{
    [Fact]
    public void Given_events_and_refusals_across_an_hour_when_taken_then_each_hour_has_its_counts_and_the_next_take_is_empty()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 10, 59, 0, TimeSpan.Zero));
        var activity = new SourceActivity(clock);
        activity.Accepted("t1", "zendesk", 3);
        activity.Refused("t1", "zendesk");
        activity.Accepted("t2", "zendesk");
        clock.Advance(TimeSpan.FromMinutes(2));
        activity.Accepted("t1", "zendesk");

        var taken = activity.Take().OrderBy(c => c.Tenant).ThenBy(c => c.Hour).ToList();

        Assert.Equal(
        [
            ("t1", 10, 3, 1, new DateTimeOffset(2026, 12, 5, 10, 59, 0, TimeSpan.Zero)),
            ("t1", 11, 1, 0, new DateTimeOffset(2026, 12, 5, 11, 1, 0, TimeSpan.Zero)),
            ("t2", 10, 1, 0, new DateTimeOffset(2026, 12, 5, 10, 59, 0, TimeSpan.Zero)),
        ], taken.Select(c => (c.Tenant, c.Hour.Hour, c.Accepted, c.Refused, c.LastEventAt!.Value)));
        Assert.Empty(activity.Take());
    }

    [Fact]
    public void Given_counts_that_could_not_be_written_when_restored_then_the_next_take_adds_them_to_what_came_since()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
        var activity = new SourceActivity(clock);
        activity.Accepted("t1", "pbx", 2);
        var failed = activity.Take();
        clock.Advance(TimeSpan.FromSeconds(5));
        activity.Refused("t1", "pbx");

        activity.Restore(failed);

        var again = Assert.Single(activity.Take());
        Assert.Equal((2, 1, clock.GetUtcNow().AddSeconds(-5), clock.GetUtcNow()), (again.Accepted, again.Refused, again.LastEventAt!.Value, again.LastRefusedAt!.Value));
    }
}
