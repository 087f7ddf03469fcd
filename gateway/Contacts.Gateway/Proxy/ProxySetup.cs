using Contacts.Gateway.RateLimits;
using Contacts.ServiceDefaults.OpenApi;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace Contacts.Gateway.Proxy;

/// <summary>The services behind the gateway: each is a YARP cluster whose address is Gateway:Services:{name}.</summary>
public static class Upstreams
{
    public const string Ingestion = "ingestion";
    public const string Identity = "identity";
    public const string Effort = "effort";
    public const string Alerting = "alerting";

    public static string Address(IConfiguration configuration, string service) =>
        configuration[$"Gateway:Services:{service}"]
        ?? throw new InvalidOperationException($"Gateway:Services:{service} is not set (the base URL of the {service} service)");
}

/// <summary>
/// The public surface is YARP: routes and clusters live in configuration ("ReverseProxy" in appsettings.json, one line a
/// route). In front of it: the tenant from the API key, the per-tenant rate limiter and the body limit; the request
/// transform passes the tenant on; proxy failures answer ProblemDetails (502 unreachable, 504 timed out, 503 no upstream).
/// </summary>
public static class ProxySetup
{
    public static WebApplicationBuilder AddProxy(this WebApplicationBuilder builder)
    {
        var proxy = builder.Configuration.GetSection("ReverseProxy");
        // Each cluster without destinations of its own goes to Gateway:Services:{cluster}, the setting every deployment sets.
        var destinations = proxy.GetSection("Clusters").GetChildren()
            .Where(cluster => !cluster.GetSection("Destinations").Exists())
            .Select(cluster => KeyValuePair.Create($"ReverseProxy:Clusters:{cluster.Key}:Destinations:{cluster.Key}:Address",
                (string?)Upstreams.Address(builder.Configuration, cluster.Key)))
            .ToList();
        builder.Configuration.AddInMemoryCollection(destinations);

        // YARP logs each forward's full URL at Information, and a customer lookup's query holds a phone number or email.
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);
        builder.Services.AddReverseProxy()
            .LoadFromConfig(proxy)
            .AddTransforms(context => context.AddRequestTransform(TenantTransform.Apply));
        foreach (var service in new[] { Upstreams.Identity, Upstreams.Effort, Upstreams.Alerting })
        {
            // The customer context composes three reads itself, with these clients.
            builder.Services.AddHttpClient(service, (sp, c) => c.BaseAddress = new Uri(Upstreams.Address(sp.GetRequiredService<IConfiguration>(), service)));
        }
        builder.Services.AddSingleton<Context.UpstreamReader>();
        builder.Services.AddSingleton<Context.CustomerContextComposer>();
        builder.Services.AddSingleton<Context.CustomerBriefComposer>();
        builder.Services.AddSingleton<TenantAdmission>();
        builder.AddTenantRateLimiter();
        return builder;
    }

    public static WebApplication MapPublicRoutes(this WebApplication app)
    {
        app.UseRouting();
        app.UseMiddleware<TenantAdmission>();
        app.UseRateLimiter();
        app.MapGet("/v1/customers/{id:guid}/context", (Guid id, HttpContext http, Context.CustomerContextComposer composer) => composer.Compose(id, http))
            .WithName("GetCustomerContext")
            .Documented("Everything an agent or CRM needs in one call: identifiers, the open journey (topic, channels tried, transfers, waits, last "
                + "contact), score and drivers, open alerts. Parts that cannot be read are named in 'unavailable'.")
            .Parameter("id", "The customer's id (a merged id answers for the survivor).")
            .Produces<Context.CustomerContext>()
            .Answers(StatusCodes.Status200OK, "The customer's context.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status502BadGateway)
            .Answers(StatusCodes.Status502BadGateway, "ProblemDetails: the identity service could not be read.");
        app.MapGet("/v1/customers/{id:guid}/brief", (Guid id, HttpContext http, Context.CustomerBriefComposer composer) => composer.Compose(id, http))
            .WithName("GetCustomerBrief")
            .Documented("The customer's story for the agent who answers next, so they repeat nothing: the open journey told in order (each "
                + "contact's channel, time, summary, outcome and promises with whether they are still open), the channels already tried, "
                + "doNotAskAgain (identifier types they already gave), open promises, and the effort score with its drivers.")
            .Parameter("id", "The customer's id (a merged id answers for the survivor).")
            .Produces<Context.CustomerBrief>()
            .Answers(StatusCodes.Status200OK, "The customer's brief.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status502BadGateway)
            .Answers(StatusCodes.Status502BadGateway, "ProblemDetails: the identity service could not be read.");
        app.MapReverseProxy(pipeline =>
        {
            pipeline.Use(ProblemsForProxyFailures);
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return app;
    }

    /// <summary>YARP answers a failed forward with a bare status; ours say what failed, as ProblemDetails.</summary>
    private static async Task ProblemsForProxyFailures(HttpContext http, Func<Task> next)
    {
        await next();
        if (http.GetForwarderErrorFeature() is not { } failure || http.Response.HasStarted)
        {
            return;
        }
        var service = http.GetReverseProxyFeature().Cluster.Config.ClusterId;
        var (status, title, detail) = failure.Error switch
        {
            ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, "Upstream timeout", $"The {service} service did not answer in time."),
            ForwarderError.NoAvailableDestinations => (StatusCodes.Status503ServiceUnavailable, "Upstream unavailable", $"No {service} service is available; retry shortly."),
            ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled => (0, "", ""),
            ForwarderError.RequestBodyClient => (StatusCodes.Status400BadRequest, "Bad request body", "body: the request body could not be read to its end."),
            _ => (StatusCodes.Status502BadGateway, "Upstream unavailable", $"The {service} service could not be reached."),
        };
        if (status == 0)
        {
            return;
        }
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            http.Response.Headers.RetryAfter = "1";
        }
        await Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(http);
    }
}
