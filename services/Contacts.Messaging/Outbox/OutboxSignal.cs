namespace Contacts.Messaging.Outbox;

/// <summary>
/// Wakes a background worker the moment there is work for it (a commit), instead of waiting for its next poll.
/// One worker waits; any number of writers notify.
/// </summary>
public abstract class WakeSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    // 1 from the first notify after a wake-up until the worker takes that wake-up: the notifies in between collapse
    // into it without touching the semaphore. (Every commit notifies: releasing a full SemaphoreSlim throws inside its
    // lock, and under load that exception and the contention on the lock cost identity 8% of its CPU in a dotnet-trace.)
    private int _pending;

    public void Notify()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _signal.Release();
        }
    }

    /// <summary>
    /// True when notified (at once if a notify came since the last wake-up), false on timeout. Work committed before
    /// any notify that returned is visible to what the worker does after this returns.
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (!await _signal.WaitAsync(timeout, ct))
        {
            return false;
        }
        // Cleared after taking the wake-up, so a notify from here on releases again and is never lost; one that came
        // between the two saw the flag still set, and its commit is already visible to the work this wake-up starts.
        Volatile.Write(ref _pending, 0);
        return true;
    }
}

/// <summary>Wakes the outbox relay when a transaction with outgoing messages commits.</summary>
public sealed class OutboxSignal : WakeSignal;
