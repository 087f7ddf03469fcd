using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Contacts.ServiceDefaults.Telemetry;

/// <summary>
/// Traces, metrics and logs through the OpenTelemetry SDK. OpenTelemetry.Extensions.Hosting is not served to us,
/// so the providers are built by hand and owned by the container, which disposes (and flushes) them on shutdown.
/// </summary>
internal static class TelemetrySetup
{
    private static readonly string[] TraceSources =
        ["Microsoft.AspNetCore", "System.Net.Http", "MassTransit", "Npgsql", ContactsTelemetry.Name];

    private static readonly string[] Meters =
        ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "MassTransit", "Npgsql", ContactsTelemetry.Name];

    public static void AddTelemetry(this WebApplicationBuilder builder, string serviceName)
    {
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var resource = ResourceBuilder.CreateDefault().AddService(serviceName);

        // Sampled always so that traceparent flows to the next hop even when no exporter is configured.
        var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .SetSampler(new AlwaysOnSampler())
            .AddSource(TraceSources);
        if (otlp)
        {
            tracing.AddOtlpExporter();
        }

        var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(Meters);
        if (otlp)
        {
            metrics.AddOtlpExporter();
        }

        // Created by the container (so it disposes and flushes them), and resolved at start by TelemetryLifetime.
        builder.Services.AddSingleton(_ => tracing.Build()!);
        builder.Services.AddSingleton(_ => metrics.Build()!);
        builder.Services.AddHostedService<TelemetryLifetime>();

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.SetResourceBuilder(resource);
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            if (otlp)
            {
                logging.AddOtlpExporter();
            }
        });
    }
}

internal sealed class TelemetryLifetime(TracerProvider tracer, MeterProvider meter) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracer.ForceFlush(2000);
        meter.ForceFlush(2000);
        return Task.CompletedTask;
    }
}
