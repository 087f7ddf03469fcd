using System.Diagnostics;

namespace Contacts.Dev.Servers;

/// <summary>
/// One of our built services as a real child process (`dotnet Service.dll`), bound to 127.0.0.1 at its port, its
/// output appended to a log file. It can be started, stopped, killed with SIGKILL and started again on the same port.
/// </summary>
public sealed class ServiceProcess(string name, string dllPath, int port, IReadOnlyDictionary<string, string?> environment, string logFile)
    : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private Process? _process;
    private StreamWriter? _log;

    public string Name => name;
    public int Port => port;
    public Uri BaseAddress { get; } = new($"http://127.0.0.1:{port}/");
    public string LogFile => logFile;
    public bool HasExited => _process is null || _process.HasExited;

    /// <summary>The OS process id while it runs (the benchmark reads its CPU time and memory from /proc).</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(180);

    /// <summary>Starts the process and waits until GET /health/ready answers 200.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        await StartWithoutWaitingAsync();
        // Seconds when the machine is idle; a shared, overloaded machine (many test pipelines at once) needs far longer.
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (true)
        {
            if (_process!.HasExited)
            {
                // HasExited can be true before the output readers have written the last lines (the reason it stopped)
                // to the log; waiting for exit again waits for both streams to reach their end.
                await _process.WaitForExitAsync(ct);
                throw new InvalidOperationException($"{name} exited with {_process.ExitCode} while starting:\n{Tail()}");
            }
            try
            {
                using var response = await Http.GetAsync(new Uri(BaseAddress, "health/ready"), ct);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name} was not ready within {ReadyTimeout.TotalSeconds:0} s:\n{Tail()}");
            }
            await Task.Delay(100, ct);
        }
    }

    public Task StartWithoutWaitingAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException($"{name} is already running");
        }
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dllPath)!,
        };
        start.ArgumentList.Add(dllPath);
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        start.Environment["ASPNETCORE_URLS"] = BaseAddress.ToString().TrimEnd('/');
        if (environment.TryGetValue("Telemetry__PrometheusPort", out var metricsPort) && !string.IsNullOrEmpty(metricsPort))
        {
            // /metrics answers on that port alone (as in k8s/base/config.yaml), so Kestrel must listen there too.
            start.Environment["ASPNETCORE_URLS"] += $";http://127.0.0.1:{metricsPort}";
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logFile))!);
        _log ??= new StreamWriter(new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        _log.WriteLine($"----- {DateTimeOffset.UtcNow:O} starting {name} on port {port}");
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        _process.OutputDataReceived += (_, e) => Write(e.Data);
        _process.ErrorDataReceived += (_, e) => Write(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Cleanup.Register(_process);
        return Task.CompletedTask;
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing; what a crash or an OOM kill looks like.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Write($"----- {DateTimeOffset.UtcNow:O} killed (SIGKILL)");
        }
    }

    /// <summary>SIGTERM, then up to 15 s for a graceful shutdown before SIGKILL.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            try
            {
                Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Kill();
            }
        }
    }

    public string Tail(int lines = 40)
    {
        lock (this)
        {
            _log?.Flush();
        }
        using var stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return string.Join(Environment.NewLine, reader.ReadToEnd().Split('\n').TakeLast(lines));
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (this)
        {
            _log?.WriteLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        lock (this)
        {
            _log?.Dispose();
            _log = null;
        }
    }
}
