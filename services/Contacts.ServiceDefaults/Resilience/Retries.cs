using Contacts.ServiceDefaults.Messaging;
using Polly;
using Polly.Retry;

namespace Contacts.ServiceDefaults.Resilience;

/// <summary>The retry strategies the services share, on Polly (message consumers retry through MassTransit's own).</summary>
public static class Retries
{
    /// <summary>
    /// Start-up work that needs a server which may not be up yet (the schema, the broker topology): tried until it succeeds
    /// or the host stops, 200 ms doubling to 5 s between tries, each retry reported.
    /// </summary>
    public static ResiliencePipeline UntilDone(Func<Exception, bool> retryable, Action<TimeSpan, Exception> onRetry, TimeProvider? time = null) =>
        new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException && retryable(ex)),
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(200),
            MaxDelay = TimeSpan.FromSeconds(5),
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                onRetry(args.RetryDelay, args.Outcome.Exception!);
                return default;
            },
        }).Build();

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
