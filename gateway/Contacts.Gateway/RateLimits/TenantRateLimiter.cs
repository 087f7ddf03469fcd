using System.Globalization;
using System.Threading.RateLimiting;
using Contacts.Gateway.Proxy;
using Microsoft.AspNetCore.RateLimiting;

namespace Contacts.Gateway.RateLimits;

/// <summary>A token bucket per tenant ("Gateway:RateLimit": PermitsPerSecond, Burst; per tenant under Tenants:NAME).</summary>
public sealed class RateLimitOptions
{
    public int PermitsPerSecond { get; set; } = 500;
    public int Burst { get; set; } = 1000;
    public Dictionary<string, RateLimitOptions> Tenants { get; set; } = [];
}

/// <summary>
/// ASP.NET Core's rate limiter, partitioned by the tenant of the API key, keeps one tenant's burst from starving the
/// others: a request over its tenant's bucket is answered 429 with Retry-After instead of being queued.
/// </summary>
public static class TenantRateLimiter
{
    public static WebApplicationBuilder AddTenantRateLimiter(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Gateway:RateLimit").Get<RateLimitOptions>() ?? new RateLimitOptions();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                TenantAdmission.TenantOf(http) is not { } tenant
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetTokenBucketLimiter(tenant, _ => Bucket(options.Tenants.GetValueOrDefault(tenant) ?? options)));
            limiter.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: "This tenant's request rate is over its limit; retry after the time in Retry-After.").ExecuteAsync(context.HttpContext);
            };
        });
        return builder;
    }

    private static TokenBucketRateLimiterOptions Bucket(RateLimitOptions limits) => new()
    {
        TokenLimit = Math.Max(1, limits.Burst),
        TokensPerPeriod = Math.Max(1, limits.PermitsPerSecond),
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };
}
