using System.Text.Json;
using System.Text.Json.Serialization;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Contacts.ServiceDefaults.Hosting;

public static class ServiceDefaultsExtensions
{
    /// <summary>Telemetry, ProblemDetails, JSON conventions and health checks: what every service and the gateway share.</summary>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, string serviceName)
    {
        builder.AddTelemetry(serviceName);
        // ASP.NET Core's request logging at Information writes whole URLs, and customer lookups carry a phone or an
        // email in the query: kept at Warning in every deployment (compose and k8s set no log levels of their own).
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<TransientFailureHandler>();
        builder.Services.AddHealthChecks();
        builder.Services.AddPublicApiDocument(serviceName);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        // Services trust only the gateway, which proves itself with Internal:Key: no key, no start (unless local development says so).
        builder.Services.AddOptions<InternalKeyOptions>().Bind(builder.Configuration.GetSection("Internal")).ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<InternalKeyOptions>, InternalKeyValidation>();
        builder.Services.AddHostedService<InternalKeyWarning>();
        return builder;
    }

    /// <summary>
    /// The service's own PostgreSQL schema (ConnectionStrings:postgres, search path set to the schema) as an
    /// NpgsqlDataSource, migrated at start-up; readiness waits for the migrations. The pipeline services add the inbox,
    /// outbox and event store on top (Contacts.Messaging's AddDatabase); the gateway uses this alone.
    /// </summary>
    public static WebApplicationBuilder AddPostgres(this WebApplicationBuilder builder, string schema, IEnumerable<Migration> migrations)
    {
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

    /// <summary>/health/live answers while the process runs; /health/ready when the broker and database are usable.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteReport,
        });
        app.MapMetricsEndpoint();
        return app;
    }

    private static Task WriteReport(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
        });
    }
}

/// <summary>Unhealthy until the start-up step T has completed.</summary>
public sealed class StartupGateHealthCheck<T>(T gate) : IHealthCheck where T : StartupGate
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(gate.IsComplete ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy($"{typeof(T).Name} not complete"));
}
