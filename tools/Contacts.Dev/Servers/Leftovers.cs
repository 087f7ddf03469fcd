using System.Diagnostics;

namespace Contacts.Dev.Servers;

/// <summary>
/// What an earlier `tools/run` of this checkout left running when it was killed (SIGKILL, a closed terminal, a crash):
/// its runner is gone, so nothing stops them. Only called with the folder's run lock held, so no live run owns them.
/// </summary>
public static class Leftovers
{
    /// <summary>
    /// Services (and the dashboard) of this checkout whose runner died (orphans, adopted by init): killed, so they neither hold ports nor retry
    /// against servers that are gone. Services a live test run started have their test host as parent and are left alone.
    /// </summary>
    public static void StopOrphanedServices(string repositoryRoot)
    {
        var prefixes = new[] { "services", "gateway" }.Select(f => Path.Combine(repositoryRoot, f) + Path.DirectorySeparatorChar).ToArray();
        foreach (var (pid, parent, args) in ProcFs.Processes())
        {
            var service = parent == 1 && args.Length >= 2 && Path.GetFileName(args[0]) == "dotnet" && prefixes.Any(p => args[1].StartsWith(p, StringComparison.Ordinal));
            // The dashboard runs from the NuGet cache, shared by every checkout: only the one this checkout started is ours.
            var dashboard = parent == 1 && args.Length >= 1 && Path.GetFileName(args[0]) == "Aspire.Dashboard"
                && ProcFs.Environment(pid).Contains($"{Dashboard.AspireDashboard.CheckoutVariable}={repositoryRoot}");
            if (!service && !dashboard)
            {
                continue;
            }
            var name = dashboard ? "the Aspire dashboard" : Path.GetFileNameWithoutExtension(args[1]);
            Console.WriteLine($"{name} left running by an earlier run that did not stop (pid {pid}): stopping it");
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // gone meanwhile
            }
        }
    }
}
