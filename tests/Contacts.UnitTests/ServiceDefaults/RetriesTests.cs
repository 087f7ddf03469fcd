using System.Threading.Channels;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Resilience;
using Microsoft.Extensions.Time.Testing;

namespace Contacts.UnitTests.ServiceDefaults;

/// <summary>The retry schedules on a fake clock: each wait a retry asks for is read, checked and then skipped, so no test sleeps.</summary>
public sealed class RetriesTests
{
    /// <summary>A fake clock that reports each timer a retry waits on, once it is set, so the test can move time past it.</summary>
    private sealed class WaitingClock() : FakeTimeProvider(DateTimeOffset.Parse("2026-12-05T12:00:00Z"))
    {
        public Channel<TimeSpan> Waits { get; } = Channel.CreateUnbounded<TimeSpan>();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            Waits.Writer.TryWrite(dueTime);
            return timer;
        }
    }

    /// <summary>Lets the run go to its end, moving the clock by each wait it asks for; returns the waits in order.</summary>
    private static async Task<List<TimeSpan>> RunToEnd(WaitingClock clock, Task run, Action<int>? beforeWait = null)
    {
        var waits = new List<TimeSpan>();
        while (true)
        {
            var next = clock.Waits.Reader.ReadAsync().AsTask();
            await Task.WhenAny(next, run).WaitAsync(TimeSpan.FromSeconds(10));
            if (!next.IsCompleted)
            {
                return waits;
            }
            var wait = await next;
            waits.Add(wait);
            beforeWait?.Invoke(waits.Count);
            clock.Advance(wait);
        }
    }

    private static IEnumerable<TimeSpan> Gaps(List<DateTimeOffset> tries) => tries.Zip(tries.Skip(1), (a, b) => b - a);

    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public async Task Given_start_up_work_failing_seven_times_then_it_waits_200_ms_doubling_to_5_s_between_tries_and_reports_each_retry()
    {
        var clock = new WaitingClock();
        var tries = new List<DateTimeOffset>();
        var reported = new List<(TimeSpan Delay, string Reason)>();
        var pipeline = Retries.UntilDone(ex => ex is TimeoutException, (delay, ex) => reported.Add((delay, ex.Message)), clock);

        var run = pipeline.ExecuteAsync(_ =>
        {
            tries.Add(clock.GetUtcNow());
            return tries.Count < 8 ? throw new TimeoutException($"down {tries.Count}") : ValueTask.CompletedTask;
        }).AsTask();
        var waits = await RunToEnd(clock, run);
        await run;

        TimeSpan[] schedule = [Ms(200), Ms(400), Ms(800), Ms(1600), Ms(3200), Ms(5000), Ms(5000)];
        Assert.Equal(8, tries.Count);
        Assert.Equal(schedule, waits);
        Assert.Equal(schedule, Gaps(tries));
        Assert.Equal(schedule.Select((d, i) => (d, $"down {i + 1}")), reported);
    }

    [Fact]
    public async Task Given_start_up_work_failing_for_another_reason_then_it_is_not_tried_again()
    {
        var clock = new WaitingClock();
        var tries = 0;
        var pipeline = Retries.UntilDone(ex => ex is TimeoutException, (_, _) => { }, clock);

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await pipeline.ExecuteAsync(_ => { tries++; throw new InvalidOperationException("a bug"); }));
        Assert.Equal(1, tries);
        Assert.False(clock.Waits.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Given_start_up_work_that_never_succeeds_when_the_host_stops_during_a_wait_then_retrying_ends()
    {
        var clock = new WaitingClock();
        using var stopping = new CancellationTokenSource();
        var tries = 0;
        var pipeline = Retries.UntilDone(_ => true, (_, _) => { }, clock);

        var run = pipeline.ExecuteAsync(_ => { tries++; throw new TimeoutException("never up"); }, stopping.Token).AsTask();
        await RunToEnd(clock, run, beforeWait: waits =>
        {
            if (waits == 3)
            {
                stopping.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(3, tries);
    }

    [Fact]
    public async Task Given_a_transient_database_failure_that_persists_then_it_is_tried_ten_times_50_ms_doubling_to_2_s_apart()
    {
        var clock = new WaitingClock();
        var tries = new List<DateTimeOffset>();
        var run = DatabaseRetries.TransientOn(clock).ExecuteAsync(_ => { tries.Add(clock.GetUtcNow()); throw new TimeoutException("busy"); }).AsTask();

        var waits = await RunToEnd(clock, run);

        await Assert.ThrowsAsync<TimeoutException>(() => run);
        TimeSpan[] schedule = [Ms(50), Ms(100), Ms(200), Ms(400), Ms(800), Ms(1600), Ms(2000), Ms(2000), Ms(2000)];
        Assert.Equal(10, tries.Count);
        Assert.Equal(schedule, waits);
        Assert.Equal(schedule, Gaps(tries));
    }

    [Fact]
    public async Task Given_a_failure_that_is_not_transient_then_the_database_work_is_tried_once()
    {
        var clock = new WaitingClock();
        var tries = 0;
        await Assert.ThrowsAsync<ArgumentException>(async () =>
            await DatabaseRetries.TransientOn(clock).ExecuteAsync(_ => { tries++; throw new ArgumentException("a bug"); }));
        Assert.Equal(1, tries);
        Assert.False(clock.Waits.Reader.TryRead(out _));
    }
}
