using Contacts.Gateway.ApiKeys;
using Contacts.Gateway.BadRequests;
using Contacts.Gateway.Proxy;
using Contacts.Gateway.OpenApi;
using Contacts.ServiceDefaults.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("gateway");
builder.AddDatabase("gateway", ApiKeySchema.Migrations);
builder.AddApiKeys();
builder.AddProxy();
builder.AddBadRequestProblems();

var app = builder.Build();
if (args is ["keys", ..])
{
    return await ApiKeyAdmin.RunCommand(args, app.Services);
}
app.MapDefaultEndpoints();
app.MapApiKeyAdmin();
app.MapOpenApiDocument();
app.MapPublicRoutes();
app.Run();
return 0;

public partial class Program;
