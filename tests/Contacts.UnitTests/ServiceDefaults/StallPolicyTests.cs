using Contacts.Messaging;

namespace Contacts.UnitTests.ServiceDefaults;

public sealed class StallPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StallInHandAfter = TimeSpan.FromMinutes(10);

    /// <summary>Feeds the checks in order, ten seconds apart, and returns the verdict of each.</summary>
    private static bool[] Checks(params QueueObservation[] observations)
    {
        var watch = default(QueueWatch);
        return observations.Select((o, i) =>
        {
            (watch, var stalled) = StallPolicy.Observe(watch, o, T0.AddSeconds(10 * i), StallAfter, StallInHandAfter);
            return stalled;
        }).ToArray();
    }

    private static QueueObservation[] Repeat(QueueObservation o, int times) => Enumerable.Repeat(o, times).ToArray();

    [Fact]
    public void Messages_that_wait_while_the_endpoint_takes_nothing_for_a_minute_are_a_stall()
    {
        // Given 40 messages waiting and an endpoint that has not moved (nothing in hand), checked every 10 s,
        var verdicts = Checks(Repeat(new QueueObservation(Waiting: 40, InHand: 0, Progress: 7), 9));

        // then the first check only takes the endpoint's measure, the second sees it stuck, and the stall is called a
        // minute after that, and at every check after.
        Assert.Equal([false, false, false, false, false, false, false, true, true], verdicts);
    }

    [Fact]
    public void An_endpoint_that_keeps_moving_is_not_stalled_however_much_waits()
    {
        // Given a backlog of thousands, when every check sees the endpoint's progress move, then it is never a stall.
        var verdicts = Checks(Enumerable.Range(0, 20).Select(i => new QueueObservation(5_000, 32, Progress: i * 100)).ToArray());
        Assert.DoesNotContain(true, verdicts);
    }

    [Fact]
    public void An_idle_queue_is_not_a_stall()
    {
        // Given an endpoint that has not moved for hours, when nothing waits for it, then it is not stalled.
        Assert.DoesNotContain(true, Checks(Repeat(new QueueObservation(0, 0, 1_234), 100)));
    }

    [Fact]
    public void The_clock_starts_when_messages_are_first_seen_waiting_not_at_the_last_progress()
    {
        // Given an endpoint idle for ten minutes (progress unchanged), when messages then start to wait,
        var idle = Repeat(new QueueObservation(0, 0, 50), 60);
        var verdicts = Checks([.. idle, .. Repeat(new QueueObservation(3, 0, 50), 7)]);

        // then it still takes a minute of waiting before a stall is called.
        Assert.Equal([false, false, false, false, false, false, true], verdicts[60..]);
    }

    [Fact]
    public void Progress_or_an_empty_queue_clears_a_suspected_stall()
    {
        // Given 50 s without progress, when the endpoint moves once, then the minute starts again.
        var stuck = new QueueObservation(10, 0, 5);
        var verdicts = Checks([.. Repeat(stuck, 6), new QueueObservation(10, 0, 6), .. Repeat(new QueueObservation(10, 0, 6), 6)]);
        Assert.DoesNotContain(true, verdicts);

        // Given 50 s without progress, when the queue is seen empty once, then the minute starts again too.
        verdicts = Checks([.. Repeat(stuck, 6), new QueueObservation(0, 0, 5), .. Repeat(stuck, 6)]);
        Assert.DoesNotContain(true, verdicts);
    }

    [Fact]
    public void Messages_in_hand_get_the_longer_limit_so_a_consumer_retrying_through_a_database_outage_is_left_alone()
    {
        // Given every slot busy retrying (32 in hand) while 500 wait, and nothing finishing,
        var verdicts = Checks(Repeat(new QueueObservation(500, 32, 900), 63));

        // then it is a stall only ten minutes after it was first seen stuck (the second check), not after one.
        Assert.Equal(61, Array.IndexOf(verdicts, true));
    }

    [Fact]
    public void A_partition_another_instance_is_subscribed_to_is_never_called_stalled_here()
    {
        // Given a partition queue (single active consumer) where messages wait and this endpoint does nothing, when the
        // queue has consumers (the active one may be another instance's), then it is never a stall;
        Assert.DoesNotContain(true, Checks(Repeat(new QueueObservation(40, 0, 7, ActiveElsewhere: true), 20)));

        // and when its consumers are gone, it is one a minute after it was first seen stuck, as for any queue.
        Assert.Equal([false, false, false, false, false, false, false, true],
            Checks(Repeat(new QueueObservation(40, 0, 7, ActiveElsewhere: false), 8)));
    }
}
