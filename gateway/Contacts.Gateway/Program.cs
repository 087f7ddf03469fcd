using Contacts.Gateway.ApiKeys;
using Contacts.Gateway.Forwarding;
using Contacts.ServiceDefaults.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("gateway");
builder.AddDatabase("gateway", ApiKeySchema.Migrations);
builder.AddApiKeys();
builder.AddForwarding();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapPublicRoutes();
app.Run();

public partial class Program;
