using System.Diagnostics;
using System.Reflection;
using Contacts.Dev.Servers;

namespace Contacts.Dev.Dashboard;

/// <summary>
/// The Aspire dashboard as a child process: the standalone executable of the Aspire.Dashboard.Sdk.linux-x64 package
/// (restored into the NuGet cache by this project), its web page and its OTLP/gRPC receiver each on a free loopback
/// port. Unsecured on both, which is safe only because nothing but this machine can reach them.
/// </summary>
public sealed class AspireDashboard : IAsyncDisposable
{
    /// <summary>Set on the dashboard's process so that a later run can tell it belongs to this checkout (see Leftovers).</summary>
    public const string CheckoutVariable = "CONTACTS_CHECKOUT";

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    private readonly Process _process;
    private readonly StreamWriter _log;
    private bool _closed;

    private AspireDashboard(Process process, StreamWriter log, string logFile, int port, int otlpPort)
    {
        _process = process;
        _log = log;
        LogFile = logFile;
        Address = new Uri($"http://127.0.0.1:{port}");
        OtlpEndpoint = new Uri($"http://127.0.0.1:{otlpPort}");
    }

    public Uri Address { get; }

    /// <summary>The web page as printed: http://127.0.0.1:PORT, without the trailing slash a Uri adds.</summary>
    public string Url => Address.GetLeftPart(UriPartial.Authority);

    public Uri OtlpEndpoint { get; }

    public string LogFile { get; }

    /// <summary>The page of one trace, with every span of every service that exported it.</summary>
    public Uri TracePage(string traceId) => new(Address, $"/traces/detail/{traceId}");

    /// <summary>
    /// What each service needs to export traces, metrics and logs here. Batches are sent every second rather than the
    /// SDK's 5 s (traces, logs) and 60 s (metrics), so that a person who just pushed a contact sees it.
    /// </summary>
    public IReadOnlyDictionary<string, string?> ExporterEnvironment => new Dictionary<string, string?>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = OtlpEndpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "1000",
        ["OTEL_BLRP_SCHEDULE_DELAY"] = "1000",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "5000",
    };

    /// <summary>Starts the dashboard and waits until its /health answers; a dashboard that fails to start is stopped before the error is thrown.</summary>
    public static async Task<AspireDashboard> StartAsync(string logDirectory, CancellationToken ct = default)
    {
        var executable = Executable();
        var (port, otlpPort) = (FreePort.Next(), FreePort.Next());
        var start = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Its appsettings.json and wwwroot sit beside the executable.
            WorkingDirectory = Path.GetDirectoryName(executable)!,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["DOTNET_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{otlpPort}";
        start.Environment["DASHBOARD__FRONTEND__AUTHMODE"] = "Unsecured";
        start.Environment["DASHBOARD__OTLP__AUTHMODE"] = "Unsecured";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // Settings meant for our services (their OTLP endpoint, ASP.NET Core's environment) must not steer the dashboard itself.
        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment[CheckoutVariable] = Pipeline.LocalPipeline.RepositoryRoot;

        Directory.CreateDirectory(logDirectory);
        var logFile = Path.Combine(logDirectory, "dashboard.log");
        var log = new StreamWriter(new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        log.WriteLine($"----- {DateTimeOffset.UtcNow:O} starting the Aspire dashboard on port {port}, OTLP/gRPC on {otlpPort}");
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            log.Dispose();
            throw new InvalidOperationException($"could not start the Aspire dashboard ({executable}): {ex.Message}", ex);
        }
        Cleanup.Register(process);
        var dashboard = new AspireDashboard(process, log, logFile, port, otlpPort);
        process.OutputDataReceived += (_, e) => dashboard.Write(e.Data);
        process.ErrorDataReceived += (_, e) => dashboard.Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await dashboard.WaitUntilReady(ct);
            return dashboard;
        }
        catch
        {
            await dashboard.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilReady(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(ct); // lets the output readers write the last lines first
                throw new InvalidOperationException($"the Aspire dashboard exited with {_process.ExitCode} while starting:\n{ChildProcess.Tail(LogFile, 20)}");
            }
            try
            {
                using var response = await Http.GetAsync(new Uri(Address, "/health"), ct);
                if (response.IsSuccessStatusCode && await FreePort.Accepts(OtlpEndpoint.Port))
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
                throw new TimeoutException($"the Aspire dashboard was not ready within {ReadyTimeout.TotalSeconds:0} s:\n{ChildProcess.Tail(LogFile, 20)}");
            }
            await Task.Delay(100, ct);
        }
    }

    /// <summary>
    /// The package's executable: where restore put it when this project was built, else the NuGet cache (NUGET_PACKAGES or
    /// ~/.nuget/packages), so the error names the path and the command that brings it.
    /// </summary>
    public static string Executable()
    {
        const string package = "aspire.dashboard.sdk.linux-x64";
        const string version = "13.6.5";
        var restored = typeof(AspireDashboard).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "AspireDashboardPackage")?.Value;
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } packages
            ? packages
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string[] candidates =
        [
            .. restored is { Length: > 0 } ? [Path.Combine(restored, "tools", "Aspire.Dashboard")] : Array.Empty<string>(),
            Path.Combine(cache, package, version, "tools", "Aspire.Dashboard"),
        ];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                $"the Aspire dashboard is not in the NuGet cache ({string.Join(" or ", candidates)}); `dotnet restore tools/Contacts.Dev` brings it, or pass --no-dashboard");
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            if (!_closed)
            {
                _log.WriteLine(line);
            }
        }
    }

    /// <summary>SIGTERM, then up to 10 s for a graceful shutdown before SIGKILL.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }
        }
        catch (InvalidOperationException)
        {
            // it was never started or has gone already
        }
        _process.Dispose();
        lock (_log)
        {
            _closed = true;
            _log.Dispose();
        }
    }
}
