using Contacts.ServiceDefaults.Tenancy;
using Yarp.ReverseProxy.Transforms;

namespace Contacts.Gateway.Proxy;

/// <summary>
/// What the services behind see of a request: the tenant of its API key (never a header the caller sent: any X-Contacts-*
/// it sent is dropped), the URL as the platform called it, and the internal key; never the caller's credentials. An
/// /admin request, admitted on the operator key, names no tenant: it says it is the operator's.
/// </summary>
public static class TenantTransform
{
    public static ValueTask Apply(RequestTransformContext context)
    {
        var http = context.HttpContext;
        var headers = context.ProxyRequest.Headers;
        foreach (var name in headers.Select(h => h.Key).Where(IsCallerOnly).ToList())
        {
            headers.Remove(name);
        }
        if (TenantAdmission.IsOperator(http))
        {
            headers.Add(Tenant.OperatorHeader, "true");
        }
        else
        {
            headers.Add(Tenant.Header, TenantAdmission.TenantOf(http)
                ?? throw new InvalidOperationException("a /v1 request reached the proxy without an admitted tenant"));
        }
        headers.Add("X-Contacts-Original-Url", OriginalUrl(http.Request, http.RequestServices.GetRequiredService<IConfiguration>()["Gateway:PublicBaseUrl"]));
        if (http.RequestServices.GetRequiredService<IConfiguration>()["Internal:Key"] is { Length: > 0 } internalKey)
        {
            headers.Add(Tenant.InternalKeyHeader, internalKey);
        }
        return ValueTask.CompletedTask;
    }

    private static bool IsCallerOnly(string header) =>
        header.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || header.Equals("X-Api-Key", StringComparison.OrdinalIgnoreCase)
        || header.StartsWith("X-Contacts-", StringComparison.OrdinalIgnoreCase);

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

    public static (string User, string Password)? BasicCredentials(HttpRequest request)
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
}
