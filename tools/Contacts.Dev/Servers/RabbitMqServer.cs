using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Contacts.Dev.Servers;

/// <summary>
/// A RabbitMQ node from the OS packages (our stand-in for Testcontainers): its own node name, data, logs, config,
/// Erlang cookie and distribution port, AMQP and management listeners on 127.0.0.1 at free ports. Or an existing one.
/// </summary>
public sealed class RabbitMqServer : IAsyncDisposable
{
    private const string Script = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private const string InstallHint = "RabbitMQ not found: install it with `apt-get update && apt-get install -y rabbitmq-server`";
    private readonly Uri _amqp;
    private readonly Uri _management;
    private readonly string? _dir;
    private readonly bool _durable;
    private readonly Dictionary<string, string> _env = [];
    // The services' own user per virtual host: every right on it, no management tag, so it cannot create users; only the
    // management address (with the administrator's credentials) can, and only alerting is given it.
    private readonly string _servicesPassword = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _servicesUsers = new();
    private Process? _process;

    private RabbitMqServer(Uri amqp, Uri management, string? dir, bool durable)
    {
        _amqp = amqp;
        _management = management;
        _dir = dir;
        _durable = durable;
    }

    public static RabbitMqServer External(string amqpUri, string managementUri) =>
        new(new Uri(amqpUri), new Uri(string.IsNullOrEmpty(managementUri) ? "http://127.0.0.1:15672" : managementUri), null, true);

    public static async Task<RabbitMqServer> StartAsync(string dataRoot, CancellationToken ct = default) =>
        await StartAsync(dataRoot, durable: false, ct);

    public static async Task<RabbitMqServer> StartAsync(string dataRoot, bool durable, CancellationToken ct = default)
    {
        if (!File.Exists(Script))
        {
            throw new InvalidOperationException(InstallHint);
        }
        // The node name is part of the data path, so a durable node keeps its name to find its queues again; it is named
        // after its folder so that two checkouts on one machine run nodes of their own (Erlang refuses a duplicate name).
        var dir = Path.Combine(Path.GetFullPath(dataRoot), durable ? "rabbitmq" : $"mq-{Guid.NewGuid().ToString("N")[..8]}");
        var id = NodeNameFor(dir);
        Directory.CreateDirectory(dir);
        var (amqpPort, managementPort, distPort) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        await File.WriteAllTextAsync(Path.Combine(dir, "rabbitmq.conf"), $"""
            listeners.tcp.default = 127.0.0.1:{amqpPort}
            loopback_users = none
            management.tcp.port = {managementPort}
            management.tcp.ip = 127.0.0.1
            log.console = false
            log.file.level = warning
            """, ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "enabled_plugins"), "[rabbitmq_management].", ct);
        var server = new RabbitMqServer(new Uri($"amqp://guest:guest@127.0.0.1:{amqpPort}/"), new Uri($"http://127.0.0.1:{managementPort}/"), dir, durable);
        server.NodeName = $"{id}@{Environment.MachineName}";
        server._env["RABBITMQ_NODENAME"] = server.NodeName;
        server._env["RABBITMQ_MNESIA_BASE"] = Path.Combine(dir, "mnesia");
        server._env["RABBITMQ_LOG_BASE"] = Path.Combine(dir, "log");
        server._env["RABBITMQ_CONFIG_FILE"] = Path.Combine(dir, "rabbitmq");
        server._env["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(dir, "enabled_plugins");
        server._env["RABBITMQ_DIST_PORT"] = distPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The Erlang cookie lives in $HOME: a home of its own keeps concurrent nodes from sharing or clobbering one.
        server._env["HOME"] = dir;
        if (durable)
        {
            await StopLeftover(dir, server.NodeName, ct);
        }
        try
        {
            await server.StartAgainAsync(ct);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or OperationCanceledException)
        {
            // A node that did not come up in time (or whose start was cancelled) is stopped, not left running orphaned.
            server.Kill();
            if (ex is not OperationCanceledException && ex.Message.Contains("duplicate_node_name", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"RabbitMQ node {server.NodeName} is already running (another run from this folder, or one left " +
                    $"behind): stop it with `HOME={dir} rabbitmqctl -n {server.NodeName} stop`, then start again.", ex);
            }
            throw;
        }
        return server;
    }

    /// <summary>
    /// A durable node still running from an earlier run that was killed (its runner gone, the Erlang VM orphaned, found by
    /// the home folder on its command line): the caller holds this folder's run lock, so no live run owns it. It is asked
    /// to stop (SIGTERM: a clean shutdown that keeps its queues), killed if it has not within 30 s, and this run starts its own.
    /// </summary>
    private static async Task StopLeftover(string dir, string? nodeName, CancellationToken ct)
    {
        foreach (var (pid, _, args) in ProcFs.Processes())
        {
            var home = Array.IndexOf(args, "-home");
            if (!args[0].EndsWith("beam.smp", StringComparison.Ordinal) || home < 0 || home + 1 >= args.Length || args[home + 1] != dir)
            {
                continue;
            }
            Console.WriteLine($"RabbitMQ node {nodeName} left running by an earlier run that did not stop (pid {pid}): stopping it first");
            Process process;
            try
            {
                process = Process.GetProcessById(pid);
            }
            catch (ArgumentException)
            {
                continue; // gone meanwhile
            }
            using var _ = process;
            await ChildProcess.Run("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct: ct);
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct);
            patience.CancelAfter(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(patience.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>"contacts-" and a hash of the node's folder: stable for one folder, distinct across checkouts.</summary>
    public static string NodeNameFor(string dir) =>
        "contacts-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dir))))[..10].ToLowerInvariant();

    /// <summary>The Erlang node name (name@host), unique to this server's folder.</summary>
    public string? NodeName { get; private set; }

    /// <summary>Whether the node's OS process is still running (false for an attached server).</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The process the node was started as (its Erlang VM runs below it); null for an attached server.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    private void Kill()
    {
        try
        {
            if (_process is { HasExited: false } process)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    /// <summary>The management API (queue subscriptions create queues and users through it).</summary>
    public Uri ManagementUri => _management;

    /// <summary>The management API with the administrator's credentials in it (Alerting:Amqp:ManagementUrl): for alerting alone.</summary>
    public string ManagementUriWithCredentials
    {
        get
        {
            var credentials = _amqp.UserInfo.Split(':', 2);
            return new UriBuilder(_management) { UserName = credentials[0], Password = credentials.Length > 1 ? credentials[1] : "" }.Uri.ToString();
        }
    }

    /// <summary>The services' address in a virtual host: as its own user once CreateVirtualHostAsync made one, else as the administrator.</summary>
    public string AmqpUri(string virtualHost)
    {
        var address = new UriBuilder(_amqp) { Path = "/" + Uri.EscapeDataString(virtualHost) };
        if (_servicesUsers.TryGetValue(virtualHost, out var user))
        {
            (address.UserName, address.Password) = (Uri.EscapeDataString(user), _servicesPassword);
        }
        return address.Uri.ToString();
    }

    public static string ServicesUser(string virtualHost) => $"contacts-services-{virtualHost}";

    public async Task CreateVirtualHostAsync(string virtualHost, CancellationToken ct = default)
    {
        using var http = Management();
        var vhost = Uri.EscapeDataString(virtualHost);
        (await http.PutAsync($"api/vhosts/{vhost}", null, ct)).EnsureSuccessStatusCode();
        var user = Uri.UnescapeDataString(_amqp.UserInfo.Split(':')[0]);
        (await http.PutAsJsonAsync($"api/permissions/{vhost}/{Uri.EscapeDataString(user)}",
            new { configure = ".*", write = ".*", read = ".*" }, ct)).EnsureSuccessStatusCode();
        var services = ServicesUser(virtualHost);
        (await http.PutAsJsonAsync($"api/users/{Uri.EscapeDataString(services)}", new { password = _servicesPassword, tags = "" }, ct)).EnsureSuccessStatusCode();
        (await http.PutAsJsonAsync($"api/permissions/{vhost}/{Uri.EscapeDataString(services)}",
            new { configure = ".*", write = ".*", read = ".*" }, ct)).EnsureSuccessStatusCode();
        _servicesUsers[virtualHost] = services;
    }

    /// <summary>A queue as the management API describes it (type, arguments), for tests of what alerting declared.</summary>
    public async Task<System.Text.Json.JsonElement> QueueInfoAsync(string virtualHost, string queue, CancellationToken ct = default)
    {
        using var http = Management();
        return await http.GetFromJsonAsync<System.Text.Json.JsonElement>($"api/queues/{Uri.EscapeDataString(virtualHost)}/{Uri.EscapeDataString(queue)}", ct);
    }

    /// <summary>Whether a user of the broker may manage it (its tags), for tests of who holds which rights.</summary>
    public async Task<string> UserTagsAsync(string user, CancellationToken ct = default)
    {
        using var http = Management();
        var found = await http.GetFromJsonAsync<System.Text.Json.JsonElement>($"api/users/{Uri.EscapeDataString(user)}", ct);
        return found.GetProperty("tags") switch
        {
            { ValueKind: System.Text.Json.JsonValueKind.Array } tags => string.Join(",", tags.EnumerateArray().Select(t => t.GetString())),
            var tags => tags.GetString() ?? "",
        };
    }

    /// <summary>Messages ready in a queue right now (a passive declare, exact, unlike the management API's sampled figures); 0 if it does not exist.</summary>
    public async Task<long> QueueMessageCountAsync(string virtualHost, string queue, CancellationToken ct = default) =>
        (await QueueCountsAsync(virtualHost, queue, ct)).Messages;

    /// <summary>Messages ready in the queue and consumers attached to it; both 0 for a queue that does not exist.</summary>
    public async Task<(long Messages, long Consumers)> QueueCountsAsync(string virtualHost, string queue, CancellationToken ct = default)
    {
        var factory = new ConnectionFactory { Uri = new Uri(AmqpUri(virtualHost)) };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            var declared = await channel.QueueDeclarePassiveAsync(queue, ct);
            return (declared.MessageCount, declared.ConsumerCount);
        }
        catch (OperationInterruptedException)
        {
            return (0, 0);
        }
    }

    /// <summary>The queue's type as the broker reports it ("classic", "quorum", "stream").</summary>
    public async Task<string?> QueueTypeAsync(string virtualHost, string queue, CancellationToken ct = default)
    {
        using var http = Management();
        var info = await http.GetFromJsonAsync<System.Text.Json.JsonElement>($"api/queues/{Uri.EscapeDataString(virtualHost)}/{Uri.EscapeDataString(queue)}", ct);
        return info.TryGetProperty("type", out var type) ? type.GetString() : null;
    }

    public async Task StopAsync()
    {
        RequireOwned();
        if (_process is { HasExited: false } process)
        {
            // The start script turns SIGTERM into a clean shutdown of the node.
            _ = await ChildProcess.Run("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (!process.WaitForExit(30_000))
            {
                process.Kill(entireProcessTree: true);
            }
            await process.WaitForExitAsync();
        }
        await ChildProcess.WaitUntil(async () => !await FreePort.Accepts(_amqp.Port), TimeSpan.FromSeconds(30), "RabbitMQ shutdown");
    }

    /// <summary>Starts (again) with the same ports and data; waits until AMQP accepts connections and the management API answers.</summary>
    public async Task StartAgainAsync(CancellationToken ct = default)
    {
        RequireOwned();
        var start = new ProcessStartInfo(Script) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in _env)
        {
            start.Environment[k] = v;
        }
        var log = Path.Combine(_dir!, "server.out");
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Script}");
        _process.OutputDataReceived += (_, e) => Append(log, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Cleanup.Register(_process);
        await ChildProcess.WaitUntil(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"RabbitMQ exited with {_process.ExitCode}: {ChildProcess.Tail(log, 30)}");
            }
            return await FreePort.Accepts(_amqp.Port) && await ManagementAnswers(ct);
        }, TimeSpan.FromSeconds(180), "RabbitMQ", () => ChildProcess.Tail(log, 30));
    }

    private async Task<bool> ManagementAnswers(CancellationToken ct)
    {
        using var http = Management();
        try
        {
            return (await http.GetAsync("api/overview", ct)).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private HttpClient Management()
    {
        var http = new HttpClient { BaseAddress = _management, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(_amqp.UserInfo))));
        return http;
    }

    private static void Append(string file, string? line)
    {
        if (line is not null)
        {
            lock (file)
            {
                File.AppendAllText(file, line + Environment.NewLine);
            }
        }
    }

    private void RequireOwned()
    {
        if (_dir is null)
        {
            throw new NotSupportedException("this RabbitMQ server was attached, not started here; it cannot be stopped or started");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_dir is null)
        {
            return;
        }
        try
        {
            await StopAsync();
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            _process?.Kill(entireProcessTree: true);
        }
        if (!_durable)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}

/// <summary>Kills the servers and services we started if this process ends without disposing them (a crashed test run).</summary>
public static class Cleanup
{
    private static readonly List<Process> Processes = [];

    static Cleanup() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        lock (Processes)
        {
            foreach (var process in Processes)
            {
                try
                {
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                    }
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
    };

    public static void Register(Process process)
    {
        lock (Processes)
        {
            Processes.RemoveAll(p => { try { return p.HasExited; } catch (InvalidOperationException) { return true; } });
            Processes.Add(process);
        }
    }
}
