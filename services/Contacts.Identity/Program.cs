using Contacts.Identity.Customers;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Messaging;
using MassTransit;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("identity");
builder.AddDatabase("identity", IdentitySchema.Migrations, CustomerEvents.Types);
builder.AddMessaging(x =>
{
    x.AddConsumer<ContactEventReceivedBatchConsumer, ContactEventReceivedBatchConsumerDefinition>();
    x.AddConsumer<ContactEventReceivedConsumer, ContactEventReceivedConsumerDefinition>();
});
builder.Services.AddSingleton<SettingsStore>();
builder.Services.AddSingleton<Stitcher>();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapCustomers();
app.MapIdentitySettings();
app.Run();

public partial class Program;
