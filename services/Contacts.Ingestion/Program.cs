using Contacts.Ingestion.Erasure;
using Contacts.Ingestion.Events;
using Contacts.Ingestion.Platforms;
using Contacts.Ingestion.Sources;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Messaging;
using MassTransit;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("ingestion");
builder.AddDatabase("ingestion", IngestionSchema.Migrations);
builder.AddMessaging(x => x.AddConsumer<CustomerErasedConsumer, CustomerErasedConsumerDefinition>());
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.DescribeContactEventSchema();
builder.Services.AddOptions<SourceOptions>().Bind(builder.Configuration.GetSection("Ingestion:Sources"));
builder.Services.AddSingleton<SourceActivity>();
builder.Services.AddHostedService<SourceWatch>();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapContactEvents();
app.MapPlatformWebhooks();
app.MapSources();
app.Run();

public partial class Program;
