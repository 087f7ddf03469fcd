using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Resilience;
using Contacts.ServiceDefaults.Telemetry;
using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Contacts.Persistence;

/// <summary>One schema change, applied once per schema and recorded by its id. Never edit one that has shipped.</summary>
public sealed record Migration(string Id, string Sql);

/// <summary>The schema a service owns and the migrations that build it (shared ones first).</summary>
public sealed record SchemaDefinition(string Schema, IReadOnlyList<Migration> Migrations);

/// <summary>
/// Schema objects a library keeps up to date itself (Marten's event store tables and functions): applied at start-up
/// under the migration lock, after the schema is created and before the migrations, which may then move data into them.
/// </summary>
public interface ISchemaObjects
{
    Task Apply(CancellationToken ct);
}

/// <summary>Completes when this process has brought its schema up to date; work that touches tables waits on it.</summary>
public sealed class MigrationState : StartupGate;

/// <summary>
/// Applies migrations at start-up in the background, so liveness answers at once and readiness waits.
/// A session advisory lock keyed by schema lets any number of instances start together safely.
/// </summary>
internal sealed partial class SchemaMigrator(
    NpgsqlDataSource dataSource, SchemaDefinition schema, MigrationState state, ILogger<SchemaMigrator> logger,
    IEnumerable<ISchemaObjects>? objects = null) : BackgroundService
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
        await Exec(conn, "select pg_advisory_lock(hashtext('contacts.migrations.' || @schema))", new { schema = schema.Schema }, ct);
        try
        {
            await Exec(conn, $"create schema if not exists \"{schema.Schema}\"", null, ct);
            await Exec(conn, """
                create table if not exists schema_migrations (
                    id text primary key,
                    applied_at timestamptz not null default now())
                """, null, ct);

            foreach (var kept in objects ?? [])
            {
                await kept.Apply(ct);
            }

            var applied = (await conn.QueryAsync<string>(new CommandDefinition("select id from schema_migrations", cancellationToken: ct))).ToHashSet();

            foreach (var migration in schema.Migrations.Where(m => !applied.Contains(m.Id)))
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await conn.ExecuteAsync(new CommandDefinition(migration.Sql, transaction: tx, cancellationToken: ct));
                await conn.ExecuteAsync(new CommandDefinition("insert into schema_migrations (id) values (@id)", new { id = migration.Id }, tx,
                    cancellationToken: ct));
                await tx.CommitAsync(ct);
                LogApplied(logger, schema.Schema, migration.Id);
            }
        }
        finally
        {
            await Exec(conn, "select pg_advisory_unlock(hashtext('contacts.migrations.' || @schema))", new { schema = schema.Schema }, CancellationToken.None);
        }
    }

    private static Task Exec(NpgsqlConnection conn, string sql, object? args, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(sql, args, cancellationToken: ct));

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
