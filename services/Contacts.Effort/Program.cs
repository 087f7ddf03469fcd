using Contacts.Effort.Scoring;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Messaging;
using MassTransit;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("effort");
builder.AddDatabase("effort", EffortSchema.Migrations, JourneyEvents.Types);
builder.AddMessaging(x => x.AddConsumer<ContactAttributedConsumer, ContactAttributedConsumerDefinition>());
builder.Services.AddOptions<EffortWeights>().Bind(builder.Configuration.GetSection("Effort:Weights"));

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
