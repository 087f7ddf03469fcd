using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Persistence;

public sealed class StatisticsOptions
{
    /// <summary>How often the service's tables are checked; 0 turns the keeper off (autovacuum alone then).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Rows a table must have changed by before it is analysed at all, so tiny tables are left to autovacuum.</summary>
    public long MinimumChanges { get; set; } = 500;
    /// <summary>
    /// default_statistics_target for the keeper's analyses (the server's own, 100, when unset): 10 samples 3,000 rows instead
    /// of 30,000, which is plenty to size a young table and its keys, and halved the analyses' time in tools/bench (about
    /// 100 analyses a run). Autovacuum's later analyses use the server's target.
    /// </summary>
    public int? Target { get; set; } = 10;
}

/// <summary>
/// When a table's planner statistics are stale enough to be worth renewing: once it has changed by at least as many rows
/// as it had when last analysed (it doubled, or was rewritten), and by at least the minimum. Autovacuum renews at 10% but
/// only once a minute, which a young table outgrows many times over in a burst; past that it is autovacuum's job.
/// </summary>
public static class StatisticsPolicy
{
    /// <param name="rowsWhenAnalysed">pg_class.reltuples: the row count at the last analyse, -1 when never analysed.</param>
    /// <param name="changedSince">pg_stat_user_tables.n_mod_since_analyze: rows inserted, updated or deleted since.</param>
    public static bool IsStale(double rowsWhenAnalysed, long changedSince, long minimumChanges) =>
        changedSince >= Math.Max(minimumChanges, rowsWhenAnalysed);
}

/// <summary>
/// Analyses the service's own tables while they grow fast, so the plans PostgreSQL caches for our prepared statements
/// follow them. A generic plan is made once, at a statement's sixth use, from the statistics of that moment; made while
/// a table was a few pages, it scans the whole table per contact (measured with tools/bench --profile: effort's merge
/// lookup read every customer of the tenant, 0.8 ms a contact at 4,000 customers and growing), and it is only made
/// again when the table is analysed. ANALYZE renews the statistics and drops the cached plans that read the table.
/// One instance at a time per schema (transaction advisory lock); tables of another owner are left alone; a failure is
/// logged and waits for the next check, it never stops the service.
/// </summary>
internal sealed partial class StatisticsKeeper(
    NpgsqlDataSource dataSource,
    SchemaDefinition schema,
    MigrationState migrations,
    IOptions<StatisticsOptions> options,
    ILogger<StatisticsKeeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Interval <= TimeSpan.Zero)
        {
            return;
        }
        await migrations.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(settings.Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await AnalyseStale(settings.MinimumChanges, stoppingToken, settings.Target);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogCheckFailed(logger, schema.Schema, ex.Message);
            }
        }
    }

    /// <summary>Analyses every stale table of the schema; returns the tables analysed (none when another instance is at it).</summary>
    internal async Task<IReadOnlyList<string>> AnalyseStale(long minimumChanges, CancellationToken ct, int? target = null)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var locked = new NpgsqlCommand("select pg_try_advisory_xact_lock(hashtextextended('contacts analyse ' || @schema, 0))",
                         connection, transaction))
        {
            locked.Parameters.AddWithValue("schema", schema.Schema);
            if (await locked.ExecuteScalarAsync(ct) is not true)
            {
                return [];
            }
        }
        var stale = new List<(string Table, double Rows, long Changed)>();
        await using (var tables = new NpgsqlCommand("""
            select s.relname, c.reltuples::float8, s.n_mod_since_analyze
            from pg_stat_user_tables s join pg_class c on c.oid = s.relid
            where s.schemaname = @schema and pg_has_role(c.relowner, 'USAGE') -- of another owner, ANALYZE would only warn
            """, connection, transaction))
        {
            tables.Parameters.AddWithValue("schema", schema.Schema);
            await using var reader = await tables.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var (table, rows, changed) = (reader.GetString(0), reader.GetDouble(1), reader.GetInt64(2));
                if (StatisticsPolicy.IsStale(rows, changed, minimumChanges))
                {
                    stale.Add((table, rows, changed));
                }
            }
        }
        if (stale.Count > 0 && target is { } statisticsTarget)
        {
            await using var set = new NpgsqlCommand($"set local default_statistics_target = {Math.Clamp(statisticsTarget, 1, 10_000)}", connection, transaction);
            await set.ExecuteNonQueryAsync(ct);
        }
        foreach (var (table, rows, changed) in stale)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await using var analyse = new NpgsqlCommand($"analyze {Quote(schema.Schema)}.{Quote(table)}", connection, transaction);
            await analyse.ExecuteNonQueryAsync(ct);
            LogAnalysed(logger, schema.Schema, table, Math.Max(0, rows), changed, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        await transaction.CommitAsync(ct);
        return [.. stale.Select(s => s.Table)];
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Analysed {Schema}.{Table} in {Milliseconds:F0} ms: {Changed} rows changed since its statistics were made at {Rows} rows")]
    private static partial void LogAnalysed(ILogger logger, string schema, string table, double rows, long changed, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checking the statistics of schema {Schema} failed, trying at the next check: {Reason}")]
    private static partial void LogCheckFailed(ILogger logger, string schema, string reason);
}
