using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace Contacts.Messaging.Persistence;

/// <summary>
/// Fault injection for the reliability suite: with "Faults:CrashAfterCommit" = N, the process kills itself right after
/// the commit that brings the messages it handled with outgoing rows to N (a shared transaction counts each of its
/// messages), before the relay can publish them. Registered only when configured (the database then carries none).
/// </summary>
public sealed class CrashAfterCommit(IConfiguration configuration)
{
    public const string Setting = "Faults:CrashAfterCommit";

    private readonly int _crashAt = configuration.GetValue<int?>(Setting) ?? 0;

    /// <summary>Whether configuration asks for the crash (the hook is registered only then).</summary>
    public static bool Asked(IConfiguration configuration) => configuration.GetValue<int?>(Setting) is > 0;
    private int _commits;

    internal void Committed(int messages)
    {
        if (_crashAt > 0 && Interlocked.Add(ref _commits, messages) is var after && after >= _crashAt && after - messages < _crashAt)
        {
            Console.Error.WriteLine($"fault injection: killing this process after commit {_crashAt}, before publishing");
            Process.GetCurrentProcess().Kill();
        }
    }
}
