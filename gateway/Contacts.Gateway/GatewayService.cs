using Contacts.Gateway.ApiKeys;
using Contacts.Gateway.BadRequests;
using Contacts.Gateway.OpenApi;
using Contacts.Gateway.Proxy;
using Contacts.ServiceDefaults.Hosting;

namespace Contacts.Gateway;

/// <summary>The gateway as a host: what it registers and what it serves. Program.cs only calls these two.</summary>
public static class GatewayService
{
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults("gateway");
        builder.AddApiKeys();
        builder.AddProxy();
        builder.AddBadRequestProblems();
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.MapDefaultEndpoints();
        app.MapApiKeyAdmin();
        app.MapOpenApiDocument();
        app.MapPublicRoutes();
        return app;
    }
}
