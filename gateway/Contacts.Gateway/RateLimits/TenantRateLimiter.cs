using System.Threading.RateLimiting;

namespace Contacts.Gateway.RateLimits;

/// <summary>A token bucket per tenant ("Gateway:RateLimit": PermitsPerSecond, Burst; per tenant under Tenants:NAME).</summary>
public sealed class RateLimitOptions
{
    public int PermitsPerSecond { get; set; } = 500;
    public int Burst { get; set; } = 1000;
    public Dictionary<string, RateLimitOptions> Tenants { get; set; } = [];
}

/// <summary>
/// Keeps one tenant's burst from starving the others: each tenant has its own token bucket, and a request over it is
/// answered 429 with Retry-After instead of being queued.
/// </summary>
public sealed class TenantRateLimiter(Microsoft.Extensions.Options.IOptions<RateLimitOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(tenant =>
    {
        var limits = options.Value.Tenants.GetValueOrDefault(tenant) ?? options.Value;
        return RateLimitPartition.GetTokenBucketLimiter(tenant, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, limits.Burst),
            TokensPerPeriod = Math.Max(1, limits.PermitsPerSecond),
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    });

    /// <summary>Null when the request may go ahead; otherwise how long to wait before retrying.</summary>
    public TimeSpan? TryAcquire(string tenant)
    {
        using var lease = _limiter.AttemptAcquire(tenant);
        if (lease.IsAcquired)
        {
            return null;
        }
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
    }

    public void Dispose() => _limiter.Dispose();
}
