using System.Text.Json;
using System.Text.Json.Serialization;
using Contacts.ServiceDefaults.OpenApi;
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
