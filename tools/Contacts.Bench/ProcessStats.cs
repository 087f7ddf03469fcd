using System.Globalization;
using Contacts.Dev.Servers;

namespace Contacts.Bench;

/// <summary>CPU time and memory of one process as Linux reports them in /proc.</summary>
public sealed record ProcessSample(double CpuSeconds, long PeakRssBytes, long RssBytes)
{
    // USER_HZ: the unit of utime/stime in /proc/[pid]/stat; 100 on every Linux architecture .NET runs on.
    private const double TicksPerSecond = 100;

    public static ProcessSample? Read(int? pid)
    {
        if (pid is not { } id)
        {
            return null;
        }
        try
        {
            var fields = ProcFs.StatFields($"/proc/{id}/stat");
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            long Kb(string name) => File.ReadLines($"/proc/{id}/status").Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
                .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).FirstOrDefault();
            return new ProcessSample(ticks / TicksPerSecond, Kb("VmHWM") * 1024, Kb("VmRSS") * 1024);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null; // the process has gone
        }
    }

    /// <summary>
    /// CPU seconds of a process and every process below it that is alive, each with the CPU of the children it already
    /// reaped (a PostgreSQL backend that exits is counted in the postmaster's), so a server's whole cost is seen.
    /// </summary>
    public static double? TreeCpuSeconds(int? root)
    {
        if (root is not { } rootPid)
        {
            return null;
        }
        var parentOf = new Dictionary<int, int>();
        var ticksOf = new Dictionary<int, long>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var fields = ProcFs.StatFields(Path.Combine(dir, "stat"));
                parentOf[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
                ticksOf[pid] = fields[11..15].Sum(f => long.Parse(f, CultureInfo.InvariantCulture));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // gone while we looked
            }
        }
        if (!ticksOf.ContainsKey(rootPid))
        {
            return null;
        }
        long InTree(int pid)
        {
            for (var p = pid; p > 1; p = parentOf.GetValueOrDefault(p, 1))
            {
                if (p == rootPid)
                {
                    return ticksOf[pid];
                }
            }
            return 0;
        }
        return ticksOf.Keys.Sum(InTree) / TicksPerSecond;
    }

    /// <summary>CPU seconds the whole machine has been busy since boot (all cores, everything but idle and I/O wait).</summary>
    public static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return (fields.Sum() - fields[3] - fields[4]) / TicksPerSecond;
    }
}
