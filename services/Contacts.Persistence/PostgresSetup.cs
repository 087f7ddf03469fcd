using Contacts.ServiceDefaults.Hosting;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Contacts.Persistence;

public static class PostgresSetup
{
    /// <summary>
    /// The service's own PostgreSQL schema (ConnectionStrings:postgres, search path set to the schema) as an
    /// NpgsqlDataSource, migrated at start-up; readiness waits for the migrations. The pipeline services add the inbox,
    /// outbox and event store on top (Contacts.Messaging's AddDatabase); the gateway uses this alone.
    /// </summary>
    public static WebApplicationBuilder AddPostgres(this WebApplicationBuilder builder, string schema, IEnumerable<Migration> migrations)
    {
        DapperConventions.Use();
        var connectionString = builder.Configuration.GetConnectionString("postgres")
            ?? throw new InvalidOperationException("ConnectionStrings:postgres is not set (e.g. Host=127.0.0.1;Username=postgres;Database=contacts)");
        var csb = new NpgsqlConnectionStringBuilder(connectionString)
        {
            SearchPath = schema,
            ApplicationName = $"contacts-{schema}",
        };
        // Bounded pools that let idle connections go, so replicas of every service fit in the server's max_connections.
        if (!Mentions(connectionString, "Maximum Pool Size", "MaxPoolSize", "Max Pool Size"))
        {
            csb.MaxPoolSize = 40;
        }
        csb.ConnectionIdleLifetime = 30;
        // Measured with tools/bench --profile: the DISCARD ALL that resets a pooled connection was half of PostgreSQL's
        // transactions, and nothing here leaves session state behind (search path is in the connection string; advisory
        // locks are transaction-scoped, the migration lock is released explicitly). Statements repeat per message, so
        // Npgsql prepares the frequent ones. Either can be set otherwise in the connection string.
        if (!Mentions(connectionString, "No Reset On Close", "NoResetOnClose"))
        {
            csb.NoResetOnClose = true;
        }
        if (!Mentions(connectionString, "Max Auto Prepare", "MaxAutoPrepare"))
        {
            csb.MaxAutoPrepare = 64;
        }
        // Prepared statements stay on their generic plan. PostgreSQL otherwise keeps re-planning, at every execution, a
        // statement whose parameters are arrays (unnest(@ids), = any(@ids)): it prices the generic plan for ten elements
        // and the custom one for the few actually sent, so the custom plan always looks cheaper. tools/bench --profile
        // (pg_stat_statements with track_planning) found identity's identifier-index read planned at every one of its
        // calls, 3.3 s of planning beside 0.5 s of execution for 10,000 contacts, and alerting's state reads alike.
        // The queries are written for generic plans (lateral lookups, see Stitcher), and the statistics keeper analyses
        // growing tables so those plans are made again from fresh statistics.
        if (!Mentions(connectionString, "plan_cache_mode"))
        {
            csb.Options = $"{csb.Options} -c plan_cache_mode=force_generic_plan".Trim();
        }
        builder.Services.AddSingleton(_ => new NpgsqlDataSourceBuilder(csb.ConnectionString).Build());
        builder.Services.AddSingleton(new SchemaDefinition(schema, [.. migrations]));
        builder.Services.AddSingleton<MigrationState>();
        builder.Services.AddSingleton<SchemaMigrator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SchemaMigrator>());
        builder.Services.AddOptions<StatisticsOptions>().Bind(builder.Configuration.GetSection("Persistence:Statistics"));
        builder.Services.AddHostedService<StatisticsKeeper>();
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        return builder;
    }

    private static bool Mentions(string connectionString, params string[] keywords) =>
        keywords.Any(k => connectionString.Contains(k, StringComparison.OrdinalIgnoreCase));

    /// <summary>Brings the schema up to date now (for command-line tools that run without starting the host).</summary>
    public static async Task EnsureSchemaAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        await services.GetRequiredService<SchemaMigrator>().MigrateAsync(ct);
        services.GetRequiredService<MigrationState>().Complete();
    }
}
