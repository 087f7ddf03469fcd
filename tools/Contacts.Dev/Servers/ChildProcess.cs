using System.Diagnostics;

namespace Contacts.Dev.Servers;

/// <summary>Small helpers for the processes the local servers are made of.</summary>
internal static class ChildProcess
{
    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>Runs a command to completion (as the given OS user when we are root) and returns its output, or throws with it.</summary>
    public static async Task<string> Run(string file, IEnumerable<string> args, string? asUser = null, IDictionary<string, string>? env = null,
        CancellationToken ct = default)
    {
        var start = new ProcessStartInfo(asUser is not null && IsRoot ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asUser is not null && IsRoot)
        {
            foreach (var a in new[] { "-u", asUser, "--", file })
            {
                start.ArgumentList.Add(a);
            }
        }
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var output = await stdout + await stderr;
        return process.ExitCode == 0
            ? output
            : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {output}");
    }

    public static async Task WaitUntil(Func<Task<bool>> ready, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await ready())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} was not ready within {timeout.TotalSeconds:0} s. {diagnostics?.Invoke()}");
            }
            await Task.Delay(100);
        }
    }

    public static string Tail(string file, int lines) =>
        File.Exists(file) ? string.Join(Environment.NewLine, File.ReadLines(file).TakeLast(lines)) : $"({file} does not exist)";
}

/// <summary>
/// A free TCP port on loopback for a server we start, drawn at random from below the kernel's ephemeral range and bound
/// once to check it is free. Not port 0: the kernel picks those from the ephemeral range, where every outgoing
/// connection's source port and Docker's published ports also come from, so one of those could take the port before
/// the server bound it (seen: a service dying with "address already in use" beside Testcontainers).
/// </summary>
public static class FreePort
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> Given = new();
    private const int Lowest = 10000;

    /// <summary>Where the kernel's ephemeral ports start (Linux's default when it cannot be read).</summary>
    private static int EphemeralStart { get; } = ReadEphemeralStart();

    /// <summary>A port nothing listens on now, never one this process has handed out before.</summary>
    public static int Next()
    {
        var upper = Math.Max(EphemeralStart, Lowest + 1000);
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(Lowest, upper);
            if (!Given.ContainsKey(port) && CanBind(port) && Given.TryAdd(port, true))
            {
                return port;
            }
        }
        throw new InvalidOperationException($"no free port between {Lowest} and {upper} after 1000 tries");
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream,
                System.Net.Sockets.ProtocolType.Tcp);
            socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
            socket.Listen();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static int ReadEphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }

    public static async Task<bool> Accepts(int port)
    {
        using var client = new System.Net.Sockets.TcpClient();
        try
        {
            await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
