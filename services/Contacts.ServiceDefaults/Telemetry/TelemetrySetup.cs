using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Contacts.ServiceDefaults.Telemetry;

/// <summary>
/// Traces, metrics and logs through OpenTelemetry.Extensions.Hosting: ASP.NET Core, HttpClient, Npgsql and MassTransit
/// sources plus our own; exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the
/// standard OTEL_EXPORTER_OTLP_* variables itself). Query strings are redacted by the instrumentations (a customer
/// lookup carries a phone number or email in its query), and our own spans and metrics carry ids only.
/// </summary>
internal static class TelemetrySetup
{
    public static void AddTelemetry(this WebApplicationBuilder builder, string serviceName)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing => tracing
                // Sampled always so that traceparent flows to the next hop even when no exporter is configured.
                .SetSampler(new AlwaysOnSampler())
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health"))
                .AddHttpClientInstrumentation()
                .AddNpgsql()
                .AddSource("MassTransit", ContactsTelemetry.Name))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("MassTransit", "Npgsql", ContactsTelemetry.Name));

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }
        if (PrometheusPort(builder.Configuration) is not null)
        {
            otel.WithMetrics(metrics => metrics.AddPrometheusExporter());
        }
    }

    /// <summary>
    /// Telemetry:PrometheusPort: serve /metrics for a Prometheus scrape (a ServiceMonitor) on that port alone, so the
    /// gateway's public port never exposes it. The port must also be among the URLs Kestrel listens on.
    /// </summary>
    public static int? PrometheusPort(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        int.TryParse(configuration["Telemetry:PrometheusPort"], out var port) ? port : null;

    public static void MapMetricsEndpoint(this WebApplication app)
    {
        if (PrometheusPort(app.Configuration) is { } port)
        {
            app.MapPrometheusScrapingEndpoint("/metrics").RequireHost($"*:{port}");
        }
    }
}
