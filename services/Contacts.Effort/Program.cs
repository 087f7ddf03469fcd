using Microsoft.Extensions.DependencyInjection.Extensions;
using Contacts.Effort.Journeys;
using Contacts.Effort.Reads;
using Contacts.Effort.Scoring;
using Contacts.Effort.Settings;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Messaging;
using MassTransit;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("effort");
builder.AddDatabase("effort", EffortSchema.Migrations);
// Defaults for tenants that never changed their settings; PUT /v1/settings/effort overrides them per tenant.
builder.Services.AddOptions<EffortSettings>().Bind(builder.Configuration.GetSection("Effort"));
builder.Services.AddSingleton<EffortStore>();
if (args is ["bench-cost", ..])
{
    return await Contacts.Effort.Bench.CostBench.Run(args, builder.Build().Services);
}
builder.AddMessaging(x =>
{
    x.AddConsumer<ContactAttributedBatchConsumer, ContactAttributedBatchConsumerDefinition>();
    x.AddConsumer<ContactAttributedConsumer, ContactAttributedConsumerDefinition>();
    x.AddConsumer<CustomerSplitConsumer, CustomerSplitConsumerDefinition>();
    x.AddConsumer<CustomerErasedConsumer, CustomerErasedConsumerDefinition>();
});
builder.Services.TryAddSingleton(TimeProvider.System);
builder.Services.AddSingleton<ReplaySignal>();
builder.Services.AddOptions<Contacts.Effort.Moments.MomentWatchOptions>().Bind(builder.Configuration.GetSection("Effort:Moments"));
builder.Services.AddHostedService<Contacts.Effort.Moments.MomentWatch>();
builder.Services.AddHostedService<ReplayWorker>();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapEffort();
app.MapLedger();
app.Run();
return 0;

public partial class Program;
