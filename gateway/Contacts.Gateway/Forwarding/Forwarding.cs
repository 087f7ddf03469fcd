using Contacts.Gateway.ApiKeys;
using Contacts.Gateway.RateLimits;
using Contacts.ServiceDefaults.Tenancy;

namespace Contacts.Gateway.Forwarding;

public static class ForwardingSetup
{
    public const string Ingestion = "ingestion";
    public const string Identity = "identity";
    public const string Effort = "effort";
    public const string Alerting = "alerting";

    private static readonly string[] Upstreams = [Ingestion, Identity, Effort, Alerting];

    public static WebApplicationBuilder AddForwarding(this WebApplicationBuilder builder)
    {
        foreach (var service in Upstreams)
        {
            builder.Services.AddHttpClient(service, (sp, c) =>
            {
                c.BaseAddress = new Uri(ServiceAddress(sp.GetRequiredService<IConfiguration>(), service));
                c.Timeout = TimeSpan.FromSeconds(30);
            });
        }
        builder.Services.AddSingleton<Forwarder>();
        builder.Services.AddSingleton<Context.CustomerContextComposer>();
        builder.Services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection("Gateway:RateLimit"));
        builder.Services.AddSingleton<TenantRateLimiter>();
        return builder;
    }

    private static string ServiceAddress(IConfiguration configuration, string service) =>
        configuration[$"Gateway:Services:{service}"]
        ?? throw new InvalidOperationException($"Gateway:Services:{service} is not set (the base URL of the {service} service)");

    /// <summary>The public surface: contact events go to ingestion, customer reads to identity.</summary>
    public static WebApplication MapPublicRoutes(this WebApplication app)
    {
        // Fail at start, not at the first request, when an upstream is not configured.
        foreach (var service in Upstreams)
        {
            _ = ServiceAddress(app.Configuration, service);
        }
        app.MapPost("/v1/events", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Ingestion));
        app.MapPost("/v1/events/batch", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Ingestion));
        app.MapPost("/v1/webhooks/{platform}", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Ingestion));
        app.MapGet("/v1/customers", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Identity));
        app.MapGet("/v1/customers/{**rest}", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Identity));
        app.MapGet("/v1/customers/{id}/effort", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Effort));
        app.MapGet("/v1/effort/calibration", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Effort));
        app.MapGet("/v1/settings/effort", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Effort));
        app.MapPut("/v1/settings/effort", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Effort));
        app.MapGet("/v1/settings/effort/replays/{id}", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Effort));
        app.MapGet("/v1/customers/{id:guid}/context", (Guid id, HttpContext http, Context.CustomerContextComposer composer) => composer.Compose(id, http));
        app.MapPost("/v1/customers/{id}/split", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Identity));
        app.MapDelete("/v1/customers/{id}", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Identity));
        app.MapGet("/v1/settings/identity", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Identity));
        app.MapPut("/v1/settings/identity", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Identity));
        app.MapGet("/v1/alerts", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Alerting));
        app.MapGet("/v1/alerts/{**rest}", (HttpContext http, Forwarder forwarder) => forwarder.Forward(http, Alerting));
        return app;
    }
}

/// <summary>
/// Authenticates the tenant key and streams the request to a service and the answer back. YARP's dependencies are not
/// served to us, so this is a deliberately small forwarder: no buffering, hop-by-hop headers dropped, trace context kept.
/// </summary>
public sealed class Forwarder(ApiKeyStore keys, TenantRateLimiter limiter, IHttpClientFactory clients, IConfiguration configuration)
{
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Connection",
        "Proxy-Authorization", "Authorization", "X-Api-Key", "Content-Length", "Content-Type",
    };

    public async Task Forward(HttpContext http, string service)
    {
        if (await Admit(http) is not { } tenant)
        {
            return;
        }
        await Send(http, service, tenant);
    }

    /// <summary>The tenant of a request whose key is valid and within its rate limit; otherwise writes the 401/429 and returns null.</summary>
    public async Task<string?> Admit(HttpContext http)
    {
        var key = ApiKeyFrom(http.Request);
        var tenant = key is null ? null : await keys.TenantOf(key, http.RequestAborted);
        if (tenant is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: key is null
                    ? "An API key is required: send it as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'."
                    : "The API key is not valid or has been revoked.").ExecuteAsync(http);
            return null;
        }

        if (limiter.TryAcquire(tenant) is { } retryAfter)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                detail: "This tenant's request rate is over its limit; retry after the time in Retry-After.").ExecuteAsync(http);
            return null;
        }
        return tenant;
    }

    private async Task Send(HttpContext http, string service, string tenant)
    {

        // The largest body any route takes (a batch); the service behind applies its own, tighter, limit per route.
        var maxBody = configuration.GetValue<long?>("Gateway:MaxBodyBytes") ?? 1024 * 1024;
        if (http.Request.ContentLength > maxBody)
        {
            await Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large",
                detail: $"body: at most {maxBody} bytes.").ExecuteAsync(http);
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), http.Request.Path + http.Request.QueryString);
        // Content and its type go along even when empty, so the service judges an empty body, not a missing type.
        if (http.Request.ContentLength > 0 || http.Request.Headers.TransferEncoding.Count > 0 || http.Request.ContentType is not null)
        {
            request.Content = new StreamContent(http.Request.Body);
            if (http.Request.ContentType is { } contentType)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
            if (http.Request.ContentLength is { } length)
            {
                request.Content.Headers.ContentLength = length;
            }
        }
        foreach (var (name, values) in http.Request.Headers)
        {
            // Callers never choose the tenant: any X-Contacts-* header they send is dropped here.
            if (!NotForwarded.Contains(name) && !name.StartsWith("X-Contacts-", StringComparison.OrdinalIgnoreCase)
                && !name.Equals("traceparent", StringComparison.OrdinalIgnoreCase) && !name.Equals("tracestate", StringComparison.OrdinalIgnoreCase))
            {
                request.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }
        request.Headers.Add(Tenant.Header, tenant);
        request.Headers.Add("X-Contacts-Original-Url", OriginalUrl(http.Request, configuration["Gateway:PublicBaseUrl"]));
        if (configuration["Internal:Key"] is { Length: > 0 } internalKey)
        {
            request.Headers.Add(Tenant.InternalKeyHeader, internalKey);
        }

        HttpResponseMessage response;
        try
        {
            // traceparent is set by HttpClient from the current activity, continuing the caller's trace.
            response = await clients.CreateClient(service).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, http.RequestAborted);
        }
        catch (TaskCanceledException) when (!http.RequestAborted.IsCancellationRequested)
        {
            await Results.Problem(statusCode: StatusCodes.Status504GatewayTimeout, title: "Upstream timeout",
                detail: $"The {service} service did not answer in time.").ExecuteAsync(http);
            return;
        }
        catch (HttpRequestException)
        {
            await Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Upstream unavailable",
                detail: $"The {service} service could not be reached.").ExecuteAsync(http);
            return;
        }

        using (response)
        {
            http.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!NotForwarded.Contains(name) || name is "Content-Type" or "Content-Length")
                {
                    http.Response.Headers[name] = values.ToArray();
                }
            }
            await response.Content.CopyToAsync(http.Response.Body, http.RequestAborted);
        }
    }

    /// <summary>
    /// The URL as the platform called it: Twilio signs it, so ingestion must see it, not its own internal address. Host case
    /// and port as sent (or as in Gateway:PublicBaseUrl behind a proxy); for a platform webhook called with Basic auth, the
    /// credentials go back into the URL, as Twilio signs the URL configured as https://user:key@host/....
    /// </summary>
    public static string OriginalUrl(HttpRequest request, string? publicBaseUrl)
    {
        var baseUrl = publicBaseUrl is { Length: > 0 } configured
            ? configured.TrimEnd('/')
            : $"{request.Scheme}://{request.Host.Value}{request.PathBase}";
        if (request.Path.StartsWithSegments("/v1/webhooks", StringComparison.OrdinalIgnoreCase) && BasicCredentials(request) is var (user, password)
            && baseUrl.IndexOf("://", StringComparison.Ordinal) is var schemeEnd and >= 0 && !baseUrl[(schemeEnd + 3)..].Split('/')[0].Contains('@'))
        {
            baseUrl = $"{baseUrl[..(schemeEnd + 3)]}{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@{baseUrl[(schemeEnd + 3)..]}";
        }
        return baseUrl + request.Path.ToUriComponent() + request.QueryString;
    }

    private static (string User, string Password)? BasicCredentials(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        try
        {
            var credentials = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
            return credentials.IndexOf(':') is var colon and >= 0 ? (credentials[..colon], credentials[(colon + 1)..]) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The key from 'Bearer KEY', 'X-Api-Key: KEY', or Basic auth with the key as password (platforms such as Twilio only do Basic).</summary>
    private static string? ApiKeyFrom(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var credentials = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
                return credentials.IndexOf(':') is var colon and >= 0 ? credentials[(colon + 1)..] : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }
        var header = request.Headers["X-Api-Key"].ToString().Trim();
        return header.Length > 0 ? header : null;
    }
}
