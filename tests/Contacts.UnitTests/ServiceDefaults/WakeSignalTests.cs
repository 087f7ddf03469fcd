using Contacts.Messaging.Outbox;

namespace Contacts.UnitTests.ServiceDefaults;

public sealed class WakeSignalTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task Given_no_notify_when_the_worker_waits_then_it_times_out()
    {
        var signal = new OutboxSignal();

        Assert.False(await signal.WaitAsync(Short, CancellationToken.None));
    }

    [Fact]
    public async Task Given_many_notifies_when_the_worker_waits_twice_then_they_wake_it_once()
    {
        var signal = new OutboxSignal();

        for (var i = 0; i < 100; i++)
        {
            signal.Notify();
        }

        Assert.True(await signal.WaitAsync(Short, CancellationToken.None));
        Assert.False(await signal.WaitAsync(Short, CancellationToken.None));
    }

    [Fact]
    public async Task Given_a_wake_up_taken_when_notified_again_then_it_wakes_again()
    {
        var signal = new OutboxSignal();
        signal.Notify();
        Assert.True(await signal.WaitAsync(Short, CancellationToken.None));

        signal.Notify();

        Assert.True(await signal.WaitAsync(Short, CancellationToken.None));
    }

    [Fact]
    public async Task Given_writers_notifying_from_many_threads_when_the_worker_keeps_waking_then_no_notify_throws_and_the_last_one_is_not_lost()
    {
        var signal = new OutboxSignal();
        var written = 0;
        var seen = 0;
        using var stop = new CancellationTokenSource();
        var worker = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (await signal.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None))
                {
                    // What a wake-up's work would read: everything written before the notifies that woke it.
                    Volatile.Write(ref seen, Volatile.Read(ref written));
                }
            }
        });

        await Parallel.ForAsync(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, (_, _) =>
        {
            Interlocked.Increment(ref written);
            signal.Notify();
            return ValueTask.CompletedTask;
        });

        // Every write was followed by a notify, so the worker must come to see all of them without its poll timeout.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (Volatile.Read(ref seen) != 20_000 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        stop.Cancel();
        signal.Notify();
        await worker;
        Assert.Equal(20_000, seen);
    }
}
