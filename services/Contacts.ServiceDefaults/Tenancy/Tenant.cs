using Microsoft.AspNetCore.Http;

namespace Contacts.ServiceDefaults.Tenancy;

/// <summary>
/// The tenant travels from the gateway to the services in X-Contacts-Tenant. The gateway alone sets it (from the API
/// key) and strips any copy a caller sent; services also require the internal key, so nothing else can set it. An
/// operator's request (the /admin API, operator key checked by the gateway) carries X-Contacts-Operator instead.
/// </summary>
public static class Tenant
{
    public const string Header = "X-Contacts-Tenant";
    public const string InternalKeyHeader = "X-Contacts-Internal-Key";
    public const string OperatorHeader = "X-Contacts-Operator";

    /// <summary>The tenant of this request, or null when the request did not come through the gateway.</summary>
    public static string? Of(HttpContext context, string? internalKey)
    {
        if (!FromGateway(context, internalKey))
        {
            return null;
        }
        var tenant = context.Request.Headers[Header].ToString();
        return string.IsNullOrWhiteSpace(tenant) ? null : tenant;
    }

    /// <summary>Whether this request is an operator's, passed on by the gateway after it checked the operator key.</summary>
    public static bool IsOperator(HttpContext context, string? internalKey) =>
        FromGateway(context, internalKey) && context.Request.Headers[OperatorHeader].ToString() == "true";

    private static bool FromGateway(HttpContext context, string? internalKey) =>
        string.IsNullOrEmpty(internalKey)
        || System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(context.Request.Headers[InternalKeyHeader].ToString()),
            System.Text.Encoding.UTF8.GetBytes(internalKey));
}
