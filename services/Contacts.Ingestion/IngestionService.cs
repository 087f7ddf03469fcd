using Contacts.Ingestion.Erasure;
using Contacts.Ingestion.Events;
using Contacts.Ingestion.Platforms;
using Contacts.Ingestion.Sources;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Hosting;
using MassTransit;

namespace Contacts.Ingestion;

/// <summary>Ingestion as a host: what it registers and what it serves. Program.cs only calls these two.</summary>
public static class IngestionService
{
    public static WebApplicationBuilder AddIngestion(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults("ingestion");
        builder.AddDatabase("ingestion", IngestionSchema.Migrations);
        builder.AddMessaging(x => x.AddConsumer<CustomerErasedConsumer, CustomerErasedConsumerDefinition>());
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.DescribeContactEventSchema();
        builder.Services.AddOptions<SourceOptions>().Bind(builder.Configuration.GetSection("Ingestion:Sources"));
        builder.Services.AddSingleton<SourceActivity>();
        builder.Services.AddHostedService<SourceWatch>();
        return builder;
    }

    public static WebApplication MapIngestion(this WebApplication app)
    {
        app.MapDefaultEndpoints();
        app.MapContactEvents();
        app.MapPlatformWebhooks();
        app.MapSources();
        return app;
    }
}
