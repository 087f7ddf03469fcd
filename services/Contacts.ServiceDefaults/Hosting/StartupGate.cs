namespace Contacts.ServiceDefaults.Hosting;

/// <summary>A start-up step that readiness and dependent work wait for.</summary>
public abstract class StartupGate
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsComplete => _done.Task.IsCompletedSuccessfully;

    public Task WaitAsync(CancellationToken ct) => _done.Task.WaitAsync(ct);

    internal void Complete() => _done.TrySetResult();
}
