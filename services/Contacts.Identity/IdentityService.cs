using Contacts.Identity.Customers;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Hosting;
using MassTransit;

namespace Contacts.Identity;

/// <summary>Identity as a host: what it registers and what it serves. Program.cs only calls these two.</summary>
public static class IdentityService
{
    public static WebApplicationBuilder AddIdentity(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults("identity");
        builder.AddDatabase("identity", IdentitySchema.Migrations, CustomerEvents.Types);
        builder.AddMessaging(x =>
        {
            x.AddConsumer<ContactEventReceivedBatchConsumer, ContactEventReceivedBatchConsumerDefinition>();
            x.AddConsumer<ContactEventReceivedConsumer, ContactEventReceivedConsumerDefinition>();
        });
        builder.Services.AddSingleton<SettingsStore>();
        builder.Services.AddSingleton<Stitcher>();
        return builder;
    }

    public static WebApplication MapIdentity(this WebApplication app)
    {
        app.MapDefaultEndpoints();
        app.MapCustomers();
        app.MapIdentitySettings();
        return app;
    }
}
