using Contacts.Alerting.Alerts;
using Contacts.Alerting.DeadLetters;
using Contacts.Alerting.Settings;
using Contacts.Alerting.Subscriptions;
using Contacts.Alerting.Webhooks;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Hosting;
using MassTransit;

namespace Contacts.Alerting;

/// <summary>Alerting as a host: what it registers and what it serves. Program.cs only calls these two.</summary>
public static class AlertingService
{
    public static WebApplicationBuilder AddAlerting(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults("alerting");
        builder.AddDatabase("alerting", AlertingSchema.Migrations);
        builder.AddMessaging(x =>
        {
            x.AddConsumer<EffortScoredBatchConsumer, EffortScoredBatchConsumerDefinition>();
            x.AddConsumer<EffortScoredConsumer, EffortScoredConsumerDefinition>();
            x.AddConsumer<CustomersMergedBatchConsumer, CustomersMergedBatchConsumerDefinition>();
            x.AddConsumer<CustomersMergedConsumer, CustomersMergedConsumerDefinition>();
            x.AddConsumer<CustomerSplitConsumer, CustomerSplitConsumerDefinition>();
            x.AddConsumer<CustomerErasedConsumer, CustomerErasedConsumerDefinition>();
            x.AddConsumer<SourceHealthConsumer, SourceHealthConsumerDefinition>();
            x.AddConsumer<MomentsConsumer, MomentsConsumerDefinition>();
        }, partitioned: [(PipelineTopology.AlertingEffortScored, typeof(EffortScoredBatchConsumer))]);
        builder.Services.AddOptions<AlertRuleOptions>().Bind(builder.Configuration.GetSection("Alerting:Rules"));
        builder.Services.AddSingleton<AlertingSettingsStore>();
        builder.Services.AddSingleton<AlertChanges>();
        builder.Services.AddHostedService<AlertExpiry>();
        builder.AddWebhookDelivery();
        builder.Services.AddSingleton<DeadLetterBroker>();
        builder.Services.DescribeSubscriptionSchema();
        builder.Services.DescribeAlertWebhooks();
        return builder;
    }

    public static WebApplication MapAlerting(this WebApplication app)
    {
        app.MapDefaultEndpoints();
        app.MapAlerts();
        app.MapAlertingSettings();
        app.MapSubscriptions();
        app.MapSubscriptionLifecycle();
        app.MapEventCatalog();
        app.MapFeed();
        app.MapSubscriptionReplay();
        app.MapDeadLetters();
        return app;
    }
}
