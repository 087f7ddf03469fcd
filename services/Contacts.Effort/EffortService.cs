using Contacts.Effort.Journeys;
using Contacts.Effort.Moments;
using Contacts.Effort.Reads;
using Contacts.Effort.Scoring;
using Contacts.Effort.Settings;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Hosting;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Contacts.Effort;

/// <summary>Effort as a host: what it registers and what it serves. Program.cs only calls these two.</summary>
public static class EffortService
{
    public static WebApplicationBuilder AddEffort(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults("effort");
        builder.AddDatabase("effort", EffortSchema.Migrations, ContactStream.Types);
        // Defaults for tenants that never changed their settings; PUT /v1/settings/effort overrides them per tenant.
        builder.Services.AddOptions<EffortSettings>().Bind(builder.Configuration.GetSection("Effort"));
        builder.Services.AddSingleton<EffortStore>();
        builder.AddMessaging(x =>
        {
            x.AddConsumer<ContactAttributedBatchConsumer, ContactAttributedBatchConsumerDefinition>();
            x.AddConsumer<ContactAttributedConsumer, ContactAttributedConsumerDefinition>();
            x.AddConsumer<CustomerSplitConsumer, CustomerSplitConsumerDefinition>();
            x.AddConsumer<CustomerErasedConsumer, CustomerErasedConsumerDefinition>();
        }, partitioned: [(PipelineTopology.EffortContactAttributed, typeof(ContactAttributedBatchConsumer))]);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ReplaySignal>();
        builder.Services.AddOptions<MomentWatchOptions>().Bind(builder.Configuration.GetSection("Effort:Moments"));
        builder.Services.AddHostedService<MomentWatch>();
        builder.Services.AddHostedService<ReplayWorker>();
        return builder;
    }

    public static WebApplication MapEffort(this WebApplication app)
    {
        app.MapDefaultEndpoints();
        app.MapEffortReads();
        app.MapLedger();
        return app;
    }
}
