using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace Contacts.ServiceDefaults.Persistence;

/// <summary>
/// Fault injection for the reliability suite: with "Faults:CrashAfterCommit" = N, the process kills itself right after
/// its Nth committed transaction that has outgoing messages, before the relay can publish them. Off unless configured.
/// </summary>
public sealed class CrashAfterCommit(IConfiguration configuration)
{
    private readonly int _crashAt = configuration.GetValue<int?>("Faults:CrashAfterCommit") ?? 0;
    private int _commits;

    internal void Committed()
    {
        if (_crashAt > 0 && Interlocked.Increment(ref _commits) == _crashAt)
        {
            Console.Error.WriteLine($"fault injection: killing this process after commit {_crashAt}, before publishing");
            Process.GetCurrentProcess().Kill();
        }
    }
}
