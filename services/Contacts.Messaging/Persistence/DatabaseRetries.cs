using Polly;
using Polly.Retry;

namespace Contacts.Messaging.Persistence;

/// <summary>Retries for database work done outside a consumer (which retries through MassTransit's own), on Polly.</summary>
public static class DatabaseRetries
{
    /// <summary>A short piece of database work that must not be lost to a busy database: ten tries, 50 ms doubling to 2 s, on transient failures.</summary>
    public static ResiliencePipeline Transient { get; } = TransientOn(TimeProvider.System);

    /// <summary><see cref="Transient"/> waiting on the given clock (tests pass a fake one).</summary>
    public static ResiliencePipeline TransientOn(TimeProvider time) => new ResiliencePipelineBuilder { TimeProvider = time }.AddRetry(new RetryStrategyOptions
    {
        ShouldHandle = new PredicateBuilder().Handle<Exception>(RetryConventions.IsTransient),
        BackoffType = DelayBackoffType.Exponential,
        Delay = TimeSpan.FromMilliseconds(50),
        MaxDelay = TimeSpan.FromSeconds(2),
        MaxRetryAttempts = 9,
    }).Build();
}
