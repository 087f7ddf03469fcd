using Npgsql;

namespace Contacts.Dev.Servers;

/// <summary>
/// A throwaway PostgreSQL cluster from the OS packages (our stand-in for Testcontainers): initdb into a folder of
/// ours, listening on 127.0.0.1 at a free port, trust authentication on loopback. Or an existing server, attached.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string InstallHint = "PostgreSQL server binaries not found: install them with `apt-get update && apt-get install -y postgresql`";
    private readonly string? _dataDir;
    private readonly string? _binDir;
    private readonly bool _durable;
    private readonly NpgsqlConnectionStringBuilder _server;

    private PostgresServer(NpgsqlConnectionStringBuilder server, string? dataDir, string? binDir, bool durable)
    {
        _server = server;
        _dataDir = dataDir;
        _binDir = binDir;
        _durable = durable;
    }

    public int Port => _server.Port;

    /// <summary>Where the cluster's files are (for a root user, possibly not under the data root: see PostgresDataLocation).</summary>
    public string? DataDirectory => _dataDir;

    /// <summary>The postmaster's process id, from its pid file (null for an attached server or one not running).</summary>
    public int? ProcessId
    {
        get
        {
            var pidFile = _dataDir is null ? null : Path.Combine(_dataDir, "data", "postmaster.pid");
            try
            {
                return pidFile is not null && File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), out var pid) ? pid : null;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    public static PostgresServer External(string connectionString) => new(new NpgsqlConnectionStringBuilder(connectionString), null, null, true);

    public static async Task<PostgresServer> StartAsync(string dataRoot, bool durable = false, CancellationToken ct = default)
    {
        var binDir = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        if (binDir is null)
        {
            throw new InvalidOperationException(InstallHint);
        }
        // A durable cluster lives in a fixed folder and is reused by the next run; a throwaway one gets a folder of its own.
        var dataDir = Path.Combine(Path.GetFullPath(dataRoot), durable ? "postgres" : $"pg-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dataDir);
        if (ChildProcess.IsRoot)
        {
            // initdb refuses root: the cluster belongs to the postgres OS user, who must be able to reach the folder.
            dataDir = await PostgresDataLocation.ReachableByPostgres(dataDir, durable, ct);
        }
        if (!File.Exists(Path.Combine(dataDir, "data", "PG_VERSION")))
        {
            await ChildProcess.Run(Path.Combine(binDir, "initdb"),
                ["-D", Path.Combine(dataDir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], asUser: "postgres", ct: ct);
        }
        var server = new PostgresServer(new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = FreePort.Next(),
            Username = "postgres",
            Pooling = false,
        }, dataDir, binDir, durable);
        if (durable)
        {
            await server.StopLeftover(ct);
        }
        try
        {
            await server.StartAgainAsync(ct);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
            // Whatever half started (a cancelled pg_ctl may have launched the server) is stopped, not left behind.
            await server.DisposeAsync();
            if (ex is InvalidOperationException && ex.Message.Contains("postmaster.pid", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"PostgreSQL from an earlier run still holds {dataDir}: stop it with " +
                    $"`runuser -u postgres -- {Path.Combine(binDir, "pg_ctl")} -D {Path.Combine(dataDir, "data")} stop`, then start again.", ex);
            }
            throw;
        }
        return server;
    }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder(_server.ConnectionString)
    {
        Database = database,
        Pooling = true,
        MaxPoolSize = 40,
    }.ConnectionString;

    public async Task CreateDatabaseAsync(string database, CancellationToken ct = default)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Database = "postgres" }.ConnectionString);
        await connection.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("select 1 from pg_database where datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(ct) is null)
        {
            await using var create = new NpgsqlCommand($"create database \"{database.Replace("\"", "\"\"")}\"", connection);
            await create.ExecuteNonQueryAsync(ct);
        }
    }

    public async Task StopAsync()
    {
        RequireOwned();
        await PgCtl(["stop", "-m", "fast", "-w"], CancellationToken.None);
    }

    /// <summary>Starts (again) on the same port with the same data, and waits until it accepts connections.</summary>
    public async Task StartAgainAsync(CancellationToken ct = default)
    {
        RequireOwned();
        // pg_ctl hands -o to a shell: the socket folder is quoted, so a checkout whose path has a space starts.
        var settings = $"-p {Port} -k '{_dataDir}' -c listen_addresses=127.0.0.1 -c max_connections=1000 -c shared_buffers=128MB";
        if (!_durable)
        {
            // Throwaway test data: skip the flushes that make a cluster crash-safe.
            settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        }
        await PgCtl(["start", "-w", "-t", "60", "-o", settings, "-l", Path.Combine(_dataDir!, "postgres.log")], ct);
    }

    /// <summary>
    /// A durable cluster still running from an earlier run that was killed (its runner gone, the server orphaned): the
    /// caller holds this folder's run lock, so no live run owns it; it is stopped cleanly and this run starts its own.
    /// </summary>
    private async Task StopLeftover(CancellationToken ct)
    {
        try
        {
            await PgCtl(["status"], ct); // exits 0 only while a server runs on this data directory
        }
        catch (InvalidOperationException)
        {
            return;
        }
        Console.WriteLine($"PostgreSQL left running on {_dataDir} by an earlier run that did not stop: stopping it first");
        await PgCtl(["stop", "-m", "fast", "-w", "-t", "60"], ct);
    }

    private Task<string> PgCtl(string[] args, CancellationToken ct) =>
        ChildProcess.Run(Path.Combine(_binDir!, "pg_ctl"), ["-D", Path.Combine(_dataDir!, "data"), .. args], asUser: "postgres", ct: ct);

    private void RequireOwned()
    {
        if (_dataDir is null)
        {
            throw new NotSupportedException("this PostgreSQL server was attached, not started here; it cannot be stopped or started");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_dataDir is null)
        {
            return;
        }
        try
        {
            await PgCtl(["stop", "-m", "immediate", "-w"], CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }
        if (!_durable)
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }
}
