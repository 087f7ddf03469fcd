namespace Contacts.ServiceDefaults.Outbox;

/// <summary>Wakes the relay the moment a transaction with outgoing messages commits, instead of waiting for a poll.</summary>
public sealed class OutboxSignal
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
