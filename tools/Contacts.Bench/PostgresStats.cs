using Npgsql;

namespace Contacts.Bench;

/// <summary>A statement as pg_stat_statements saw it during a phase, for the profile. Plans: how many times it was planned
/// (a prepared statement on a custom plan is planned at every execution), PlanMs the time that took.</summary>
public sealed record StatementCost(string Service, string Query, long Calls, double TotalMs, double MeanMs, long Rows, double CallsPerContact,
    long Plans = 0, double PlanMs = 0);

/// <summary>
/// PostgreSQL's own counters: committed transactions per database (each service has a database of its own in the
/// benchmark, so this is per service), and with --profile, the statements each service ran.
/// </summary>
public sealed class PostgresStats(string adminConnectionString, IReadOnlyDictionary<string, string> databaseOf)
{
    public async Task<Dictionary<string, long>> Commits(CancellationToken ct)
    {
        // Backends report their counters at most once a second: wait so the last transactions are in.
        await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
        var commits = new Dictionary<string, long>();
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("select datname, xact_commit from pg_stat_database where datname = any(@names)", connection);
        cmd.Parameters.AddWithValue("names", databaseOf.Values.ToArray());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var service = databaseOf.First(d => d.Value == reader.GetString(0)).Key;
            commits[service] = reader.GetInt64(1);
        }
        return commits;
    }

    public async Task EnableStatements(CancellationToken ct)
    {
        await Execute("create extension if not exists pg_stat_statements", ct);
        // How often each statement is planned: a prepared statement kept on custom plans is planned at every execution.
        await Execute("alter system set pg_stat_statements.track_planning = on", ct);
        await Execute("select pg_reload_conf()", ct);
    }

    public Task ResetStatements(CancellationToken ct) => Execute("select pg_stat_statements_reset()", ct);

    public async Task<List<StatementCost>> TopStatements(int contacts, int perService, CancellationToken ct)
    {
        var result = new List<StatementCost>();
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            select d.datname, s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows,
                   row_number() over (partition by d.datname order by s.total_exec_time + s.total_plan_time desc) as rank,
                   s.plans, s.total_plan_time
            from pg_stat_statements s join pg_database d on d.oid = s.dbid
            where d.datname = any(@names)
            """, connection);
        cmd.Parameters.AddWithValue("names", databaseOf.Values.ToArray());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (reader.GetInt64(6) > perService)
            {
                continue;
            }
            var service = databaseOf.First(d => d.Value == reader.GetString(0)).Key;
            var calls = reader.GetInt64(2);
            result.Add(new StatementCost(service, OneLine(reader.GetString(1)), calls, reader.GetDouble(3), reader.GetDouble(4), reader.GetInt64(5),
                contacts == 0 ? 0 : (double)calls / contacts, reader.GetInt64(7), reader.GetDouble(8)));
        }
        return [.. result.OrderBy(r => r.Service, StringComparer.Ordinal).ThenByDescending(r => r.TotalMs)];
    }

    /// <summary>Lock waits seen right now (sampled while the pipeline is busy).</summary>
    public async Task<List<(string Service, string WaitEvent, int Backends)>> Waits(CancellationToken ct)
    {
        var waits = new List<(string, string, int)>();
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            select datname, wait_event_type || ':' || wait_event, count(*)::int from pg_stat_activity
            where datname = any(@names) and state = 'active' and wait_event is not null group by 1, 2
            """, connection);
        cmd.Parameters.AddWithValue("names", databaseOf.Values.ToArray());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            waits.Add((databaseOf.First(d => d.Value == reader.GetString(0)).Key, reader.GetString(1), reader.GetInt32(2)));
        }
        return waits;
    }

    private async Task Execute(string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static string OneLine(string sql)
    {
        var line = string.Join(' ', sql.Split((char[])['\n', '\r', '\t', ' '], StringSplitOptions.RemoveEmptyEntries));
        return line.Length <= 160 ? line : line[..160] + "...";
    }
}
