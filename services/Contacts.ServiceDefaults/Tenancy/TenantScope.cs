using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Contacts.ServiceDefaults.Tenancy;

/// <summary>
/// A service's tenant-scoped endpoints, as one route group: its filter admits a request only when the gateway passed it on
/// (the internal key, Tenant.Of) with a tenant, and answers every other one 401 ProblemDetails before any handler runs.
/// Handlers read the admitted tenant with <see cref="Of"/> and never check it themselves.
/// </summary>
public static class TenantScope
{
    private const string ItemKey = "Contacts.Tenant";

    public static RouteGroupBuilder MapTenantScoped(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("");
        group.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var internalKey = http.RequestServices.GetRequiredService<IConfiguration>()["Internal:Key"];
            if (Tenant.Of(http, internalKey) is not { } tenant)
            {
                return NoTenant();
            }
            http.Items[ItemKey] = tenant;
            return await next(context);
        });
        return group;
    }

    /// <summary>The tenant the group's filter admitted this request for.</summary>
    public static string Of(HttpContext http) =>
        http.Items[ItemKey] as string ?? throw new InvalidOperationException("a tenant-scoped handler ran outside MapTenantScoped's group");

    /// <summary>What a request that did not come through the gateway with a tenant gets.</summary>
    public static IResult NoTenant() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "No tenant",
            detail: "Requests must come through the gateway with a tenant API key.");
}
