using System.Security.Cryptography;
using System.Text;
using Contacts.Gateway.ApiKeys;

namespace Contacts.Gateway.Proxy;

/// <summary>
/// Every /v1 request needs a valid API key (401 otherwise) and a body within Gateway:MaxBodyBytes (413 otherwise);
/// the key's tenant is kept on the request for the rate limiter, the request transform and the context composer.
/// Every /admin request, answered here or forwarded, needs the operator key (see <see cref="OperatorKey"/>).
/// </summary>
public sealed class TenantAdmission(RequestDelegate next, ApiKeyStore keys, IConfiguration configuration)
{
    private const string TenantItem = "contacts.tenant";
    private const string OperatorItem = "contacts.operator";

    /// <summary>The tenant the API key of this request belongs to, once admitted; null before, or outside /v1.</summary>
    public static string? TenantOf(HttpContext http) => http.Items[TenantItem] as string;

    /// <summary>Whether this request was admitted on the operator key (an /admin request).</summary>
    public static bool IsOperator(HttpContext http) => http.Items[OperatorItem] is true;

    public async Task InvokeAsync(HttpContext http)
    {
        if (http.Request.Path.StartsWithSegments("/admin", StringComparison.OrdinalIgnoreCase))
        {
            if (OperatorKey.Refusal(http, configuration["Gateway:OperatorKey"]) is { } refusal)
            {
                await refusal.ExecuteAsync(http);
                return;
            }
            http.Items[OperatorItem] = true;
            await next(http);
            return;
        }
        if (!http.Request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase))
        {
            await next(http);
            return;
        }
        var key = ApiKeyFrom(http.Request);
        var tenant = key is null ? null : await keys.TenantOf(key, http.RequestAborted);
        if (tenant is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: key is null
                    ? "An API key is required: send it as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'."
                    : "The API key is not valid or has been revoked.").ExecuteAsync(http);
            return;
        }

        // The largest body any route takes (a batch); the service behind applies its own, tighter, limit per route.
        var maxBody = configuration.GetValue<long?>("Gateway:MaxBodyBytes") ?? 1024 * 1024;
        if (http.Request.ContentLength > maxBody)
        {
            await Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large",
                detail: $"body: at most {maxBody} bytes.").ExecuteAsync(http);
            return;
        }
        // A chunked body with no length is cut off at the same size.
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBody;
        }
        http.Items[TenantItem] = tenant;
        await next(http);
    }

    /// <summary>The key from 'Bearer KEY', 'X-Api-Key: KEY', or Basic auth with the key as password (platforms such as Twilio only do Basic).</summary>
    private static string? ApiKeyFrom(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }
        if (TenantTransform.BasicCredentials(request) is var (_, password))
        {
            return password;
        }
        var header = request.Headers["X-Api-Key"].ToString().Trim();
        return header.Length > 0 ? header : null;
    }
}

/// <summary>The admin API is open only to 'Authorization: Bearer &lt;Gateway:OperatorKey&gt;'; absent that setting it is switched off.</summary>
public static class OperatorKey
{
    /// <summary>Null when the request carries the operator key; otherwise the answer (403 switched off, 401 wrong or missing key).</summary>
    public static IResult? Refusal(HttpContext http, string? configured)
    {
        var given = http.Request.Headers.Authorization.ToString() is var h && h.StartsWith("Bearer ", StringComparison.Ordinal) ? h[7..] : "";
        if (string.IsNullOrEmpty(configured))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Admin API disabled",
                detail: "Set Gateway:OperatorKey to enable the admin API.");
        }
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(configured))))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "The admin API needs 'Authorization: Bearer <operator key>'.");
        }
        return null;
    }
}
