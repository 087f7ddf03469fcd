using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Resilience;
using Contacts.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Contacts.Persistence;

/// <summary>One schema change, applied once per schema and recorded by its id. Never edit one that has shipped.</summary>
public sealed record Migration(string Id, string Sql);

/// <summary>The schema a service owns and the migrations that build it (shared ones first).</summary>
public sealed record SchemaDefinition(string Schema, IReadOnlyList<Migration> Migrations);

/// <summary>Completes when this process has brought its schema up to date; work that touches tables waits on it.</summary>
public sealed class MigrationState : StartupGate;

/// <summary>
/// Applies migrations at start-up in the background, so liveness answers at once and readiness waits.
/// A session advisory lock keyed by schema lets any number of instances start together safely.
/// </summary>
internal sealed partial class SchemaMigrator(
    NpgsqlDataSource dataSource, SchemaDefinition schema, MigrationState state, ILogger<SchemaMigrator> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var untilMigrated = Retries.UntilDone(ex => ex is NpgsqlException or TimeoutException,
            (delay, ex) => LogRetrying(logger, schema.Schema, delay.TotalMilliseconds, ex.Message));
        await untilMigrated.ExecuteAsync(async ct => await MigrateAsync(ct), stoppingToken);
        state.Complete();
    }

    internal async Task MigrateAsync(CancellationToken ct)
    {
        using var activity = ContactsTelemetry.Source.StartActivity("schema migrate");
        activity?.SetTag("db.schema", schema.Schema);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await Exec(conn, "select pg_advisory_lock(hashtext('contacts.migrations.' || @schema))", ct, ("schema", schema.Schema));
        try
        {
            await Exec(conn, $"create schema if not exists \"{schema.Schema}\"", ct);
            await Exec(conn, """
                create table if not exists schema_migrations (
                    id text primary key,
                    applied_at timestamptz not null default now())
                """, ct);

            var applied = new HashSet<string>();
            await using (var cmd = new NpgsqlCommand("select id from schema_migrations", conn))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    applied.Add(reader.GetString(0));
                }
            }

            foreach (var migration in schema.Migrations.Where(m => !applied.Contains(m.Id)))
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var cmd = new NpgsqlCommand(migration.Sql, conn, tx))
                {
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                await using (var cmd = new NpgsqlCommand("insert into schema_migrations (id) values (@id)", conn, tx))
                {
                    cmd.Parameters.AddWithValue("id", migration.Id);
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                LogApplied(logger, schema.Schema, migration.Id);
            }
        }
        finally
        {
            await Exec(conn, "select pg_advisory_unlock(hashtext('contacts.migrations.' || @schema))", CancellationToken.None, ("schema", schema.Schema));
        }
    }

    private static async Task Exec(NpgsqlConnection conn, string sql, CancellationToken ct, params (string Name, object Value)[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var (name, value) in args)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        await cmd.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {MigrationId} to schema {Schema}")]
    private static partial void LogApplied(ILogger logger, string schema, string migrationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schema {Schema} not migrated yet, retrying in {DelayMs} ms: {Reason}")]
    private static partial void LogRetrying(ILogger logger, string schema, double delayMs, string reason);
}

/// <summary>Ready only once the schema is in place and the database answers.</summary>
internal sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource, MigrationState state) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!state.IsComplete)
        {
            return HealthCheckResult.Unhealthy("schema migrations have not finished");
        }
        try
        {
            await using var cmd = dataSource.CreateCommand("select 1");
            await cmd.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("database unreachable", ex);
        }
    }
}
