using Microsoft.AspNetCore.Http;

namespace Contacts.ServiceDefaults.Tenancy;

/// <summary>
/// The tenant travels from the gateway to the services in X-Contacts-Tenant. The gateway alone sets it (from the API
/// key) and strips any copy a caller sent; services also require the internal key, so nothing else can set it.
/// </summary>
public static class Tenant
{
    public const string Header = "X-Contacts-Tenant";
    public const string InternalKeyHeader = "X-Contacts-Internal-Key";

    /// <summary>The tenant of this request, or null when the request did not come through the gateway.</summary>
    public static string? Of(HttpContext context, string? internalKey)
    {
        if (!string.IsNullOrEmpty(internalKey)
            && !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(context.Request.Headers[InternalKeyHeader].ToString()),
                System.Text.Encoding.UTF8.GetBytes(internalKey)))
        {
            return null;
        }
        var tenant = context.Request.Headers[Header].ToString();
        return string.IsNullOrWhiteSpace(tenant) ? null : tenant;
    }
}
