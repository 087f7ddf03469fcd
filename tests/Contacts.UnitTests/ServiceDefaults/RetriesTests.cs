using Contacts.ServiceDefaults.Resilience;

namespace Contacts.UnitTests.ServiceDefaults;

public sealed class RetriesTests
{
    [Fact]
    public async Task Start_up_work_is_tried_again_until_it_succeeds_and_each_retry_is_reported()
    {
        var tries = 0;
        var reported = new List<(TimeSpan Delay, string Reason)>();
        var pipeline = Retries.UntilDone(ex => ex is TimeoutException, (delay, ex) => reported.Add((delay, ex.Message)));

        await pipeline.ExecuteAsync(_ => ++tries < 3 ? throw new TimeoutException($"down {tries}") : ValueTask.CompletedTask);

        Assert.Equal(3, tries);
        Assert.Equal([(TimeSpan.FromMilliseconds(200), "down 1"), (TimeSpan.FromMilliseconds(400), "down 2")], reported);
    }

    [Fact]
    public async Task Start_up_work_failing_for_another_reason_is_not_tried_again()
    {
        var tries = 0;
        var pipeline = Retries.UntilDone(ex => ex is TimeoutException, (_, _) => { });

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await pipeline.ExecuteAsync(_ => { tries++; throw new InvalidOperationException("a bug"); }));
        Assert.Equal(1, tries);
    }

    [Fact]
    public async Task Start_up_retries_end_when_the_host_stops()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var pipeline = Retries.UntilDone(_ => true, (_, _) => { });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await pipeline.ExecuteAsync(_ => throw new TimeoutException("never up"), stopping.Token));
    }

    [Fact]
    public async Task Transient_database_failures_are_tried_ten_times_in_all_and_others_once()
    {
        var tries = 0;
        await Assert.ThrowsAsync<TimeoutException>(async () =>
            await Retries.Transient.ExecuteAsync(_ => { tries++; throw new TimeoutException("busy"); }));
        Assert.Equal(10, tries);

        tries = 0;
        await Assert.ThrowsAsync<ArgumentException>(async () =>
            await Retries.Transient.ExecuteAsync(_ => { tries++; throw new ArgumentException("a bug"); }));
        Assert.Equal(1, tries);
    }
}
