namespace Contacts.ServiceDefaults.Outbox;

/// <summary>Wakes a background worker the moment there is work for it (a commit), instead of waiting for its next poll.</summary>
public abstract class WakeSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        // A full semaphore already means "wake up"; extra notifies collapse into it.
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);
}

/// <summary>Wakes the outbox relay when a transaction with outgoing messages commits.</summary>
public sealed class OutboxSignal : WakeSignal;
