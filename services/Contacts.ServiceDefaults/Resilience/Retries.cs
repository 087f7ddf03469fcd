using Polly;
using Polly.Retry;

namespace Contacts.ServiceDefaults.Resilience;

/// <summary>Start-up retries on Polly (database work retries with Contacts.Messaging's DatabaseRetries; consumers through MassTransit's own).</summary>
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
}
