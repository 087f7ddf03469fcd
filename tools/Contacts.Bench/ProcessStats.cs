using System.Globalization;

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
            var stat = File.ReadAllText($"/proc/{id}/stat");
            // The command name (field 2) may hold spaces; fields after its closing parenthesis are space-separated.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
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
}
