namespace Contacts.Dev.Servers;

/// <summary>Linux's /proc, read the one way: what tools/run looks for when it cleans up, and what tools/bench measures.</summary>
public static class ProcFs
{
    /// <summary>The fields of a /proc/[pid]/stat after the command name, from the state on (field 3 is index 0; the parent is 1).</summary>
    public static string[] StatFields(string path)
    {
        var stat = File.ReadAllText(path);
        // The command name (field 2) may hold spaces; fields after its closing parenthesis are space-separated.
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    /// <summary>A process's environment as NAME=value entries; none when it has gone or is not ours to read.</summary>
    public static IReadOnlyList<string> Environment(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>The processes of this machine as /proc shows them: id, parent id, command line.</summary>
    public static IEnumerable<(int Pid, int ParentPid, string[] Args)> Processes()
    {
        if (!Directory.Exists("/proc"))
        {
            yield break;
        }
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid) || pid == System.Environment.ProcessId)
            {
                continue;
            }
            string[] args;
            int parent;
            try
            {
                args = File.ReadAllText(Path.Combine(entry, "cmdline")).Split('\0');
                parent = int.Parse(StatFields(Path.Combine(entry, "stat"))[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                continue;
            }
            yield return (pid, parent, args);
        }
    }
}
