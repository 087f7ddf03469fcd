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
        var exporting = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing => tracing
                .SetSampler(SamplerFor(builder.Configuration["OTEL_TRACES_SAMPLER"], builder.Configuration["OTEL_TRACES_SAMPLER_ARG"]))
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

        if (exporting)
        {
            otel.UseOtlpExporter();
        }
        if (PrometheusPort(builder.Configuration) is not null)
        {
            otel.WithMetrics(metrics => metrics.AddPrometheusExporter());
        }
    }

    /// <summary>
    /// The standard OTEL_TRACES_SAMPLER names where one is set (always_on, always_off, traceidratio, parentbased_*; the
    /// ratio from OTEL_TRACES_SAMPLER_ARG), so an operator can cut the cost of spans nothing reads. Without one, every
    /// span is recorded, exporter or not: traceparent must flow to the next hop and to the CRM either way, and with
    /// spans recording nothing (always_off) the end-to-end test saw a webhook arrive under a new trace id, a hop not yet
    /// found that starts a trace of its own for an unrecorded parent.
    /// </summary>
    internal static Sampler SamplerFor(string? name, string? argument = null)
    {
        var ratio = double.TryParse(argument,
            System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var r) ? Math.Clamp(r, 0, 1) : 1.0;
        return name?.Trim().ToLowerInvariant() switch
        {
            "always_on" => new AlwaysOnSampler(),
            "always_off" => new AlwaysOffSampler(),
            "traceidratio" => new TraceIdRatioBasedSampler(ratio),
            "parentbased_always_on" => new ParentBasedSampler(new AlwaysOnSampler()),
            "parentbased_always_off" => new ParentBasedSampler(new AlwaysOffSampler()),
            "parentbased_traceidratio" => new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio)),
            _ => new AlwaysOnSampler(),
        };
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
