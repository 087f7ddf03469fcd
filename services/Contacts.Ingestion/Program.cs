using Contacts.Ingestion.Events;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Messaging;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("ingestion");
builder.AddDatabase("ingestion", IngestionSchema.Migrations);
builder.AddMessaging();
builder.Services.AddSingleton(TimeProvider.System);

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapContactEvents();
app.MapPlatformWebhooks();
app.Run();

public partial class Program;
