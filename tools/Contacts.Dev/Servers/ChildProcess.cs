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

/// <summary>A free TCP port on loopback, found by binding port 0 and letting it go.</summary>
public static class FreePort
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> Given = new();

    /// <summary>
    /// A port nothing listens on now, never one this process has handed out before: the kernel may offer the same free
    /// port twice before the first taker binds it (seen: a gateway and an ingestion instance given one port, the gateway
    /// forwarding to itself).
    /// </summary>
    public static int Next()
    {
        while (true)
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            if (Given.TryAdd(port, true))
            {
                return port;
            }
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
