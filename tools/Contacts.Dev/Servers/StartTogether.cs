namespace Contacts.Dev.Servers;

/// <summary>Starts servers side by side; if any fails, the ones that did start are stopped before the failure is reported.</summary>
public static class StartTogether
{
    public static async Task<(T1, T2)> All<T1, T2>(Task<T1> first, Task<T2> second)
        where T1 : IAsyncDisposable where T2 : IAsyncDisposable
    {
        try
        {
            await Task.WhenAll(first, second);
            return (first.Result, second.Result);
        }
        catch
        {
            // WhenAll waits for both, so nothing is still starting when the survivors are stopped.
            if (first.IsCompletedSuccessfully)
            {
                await first.Result.DisposeAsync();
            }
            if (second.IsCompletedSuccessfully)
            {
                await second.Result.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>Three at once; the third may be null (a piece the caller chose to leave out).</summary>
    public static async Task<(T1, T2, T3)> All<T1, T2, T3>(Task<T1> first, Task<T2> second, Task<T3> third)
        where T1 : IAsyncDisposable where T2 : IAsyncDisposable where T3 : IAsyncDisposable?
    {
        try
        {
            await Task.WhenAll(first, second, third);
            return (first.Result, second.Result, third.Result);
        }
        catch
        {
            if (first.IsCompletedSuccessfully)
            {
                await first.Result.DisposeAsync();
            }
            if (second.IsCompletedSuccessfully)
            {
                await second.Result.DisposeAsync();
            }
            if (third.IsCompletedSuccessfully && third.Result is { } started)
            {
                await started.DisposeAsync();
            }
            throw;
        }
    }
}

/// <summary>
/// One `tools/run` per data folder: the durable servers' files (and so PostgreSQL's cluster and RabbitMQ's node name) are
/// per folder, so a second run from the same checkout is refused at once with who holds it, instead of an Erlang crash.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly FileStream _lock;

    private RunLock(FileStream held) => _lock = held;

    public static RunLock Acquire(string dataRoot)
    {
        Directory.CreateDirectory(dataRoot);
        var lockFile = Path.Combine(dataRoot, "run.lock");
        var pidFile = Path.Combine(dataRoot, "run.pid");
        try
        {
            // FileShare.None is an advisory whole-file lock that the OS drops when the process dies, so a crash leaves no stale lock.
            var held = new FileStream(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(pidFile, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return new RunLock(held);
        }
        catch (IOException)
        {
            var holder = File.Exists(pidFile) ? $" (process {File.ReadAllText(pidFile).Trim()})" : "";
            throw new InvalidOperationException(
                $"Another tools/run is using {dataRoot}{holder}: stop it first (Ctrl-C in its terminal), or run from another checkout.");
        }
    }

    public void Dispose() => _lock.Dispose();
}
