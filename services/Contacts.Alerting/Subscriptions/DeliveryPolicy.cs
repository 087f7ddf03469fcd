namespace Contacts.Alerting.Subscriptions;

/// <summary>What one attempt's answer does to the subscription it was for.</summary>
public enum SubscriptionEffect
{
    /// <summary>Not a subscription's delivery (the deployment's configured URL).</summary>
    None,
    /// <summary>A 2xx: the endpoint works; its run of failures (if any) ends.</summary>
    Healthy,
    /// <summary>A failure: the run of failures starts now (or goes on).</summary>
    Failing,
    /// <summary>410 Gone, or failing for longer than the disable window: the subscription is switched off.</summary>
    Disable,
}

/// <summary>The decision after an attempt: the delivery's new state, when to try again, and what happens to the subscription.</summary>
public sealed record AttemptDecision(string State, TimeSpan NextDelay, SubscriptionEffect Effect, string? DisabledReason = null);

public static class DeliveryStates
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
    public const string Disabled = "disabled";
    public static readonly string[] All = [Pending, Delivered, Failed, Disabled];
}

/// <summary>
/// Retries and disabling, as pure rules: a 2xx counts; 410 disables; anything else (429, 5xx, 3xx as redirects are not
/// followed, timeouts, refused or forbidden connections) is retried on the schedule; a subscription whose endpoint has
/// failed every attempt for the disable window is switched off.
/// </summary>
public static class DeliveryPolicy
{
    /// <summary>Delays before each attempt: Svix's first eight (about 28 hours), then 20 h and 24 h: about three days in all.</summary>
    public static readonly TimeSpan[] DefaultSchedule =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10), TimeSpan.FromHours(20), TimeSpan.FromHours(24),
    ];

    public static readonly TimeSpan DefaultDisableAfter = TimeSpan.FromDays(1);

    /// <param name="attempts">Attempts made, this one included.</param>
    /// <param name="statusCode">The answer's status, or null when there was none (timeout, refused, forbidden address).</param>
    /// <param name="failingSince">When the subscription's current run of failures began (null when its last attempt succeeded).</param>
    /// <param name="subscribed">Whether the delivery belongs to a subscription (false: the deployment's configured URL).</param>
    public static AttemptDecision Decide(int attempts, int? statusCode, DateTimeOffset now, DateTimeOffset? failingSince,
        IReadOnlyList<TimeSpan> schedule, TimeSpan disableAfter, bool subscribed)
    {
        if (statusCode is >= 200 and < 300)
        {
            return new(DeliveryStates.Delivered, TimeSpan.Zero, subscribed ? SubscriptionEffect.Healthy : SubscriptionEffect.None);
        }
        if (statusCode == 410)
        {
            return new(DeliveryStates.Disabled, TimeSpan.Zero, subscribed ? SubscriptionEffect.Disable : SubscriptionEffect.None,
                subscribed ? "the endpoint answered 410 Gone" : null);
        }
        if (subscribed && now - (failingSince ?? now) >= disableAfter)
        {
            return new(DeliveryStates.Disabled, TimeSpan.Zero, SubscriptionEffect.Disable,
                $"every attempt failed since {failingSince:O} (over {disableAfter.TotalHours:0.##} h)");
        }
        var effect = subscribed ? SubscriptionEffect.Failing : SubscriptionEffect.None;
        return attempts >= schedule.Count
            ? new(DeliveryStates.Failed, TimeSpan.Zero, effect)
            : new(DeliveryStates.Pending, schedule[attempts], effect);
    }

    /// <summary>How long a delivery is retried in all (the schedule's sum).</summary>
    public static TimeSpan Span(IReadOnlyList<TimeSpan> schedule) => schedule.Aggregate(TimeSpan.Zero, (a, b) => a + b);

    /// <summary>Whether a webhook of this type goes to a subscription that asked for these types (null or empty: the alert types).</summary>
    public static bool Wants(IReadOnlyCollection<string>? events, string type) =>
        (events is null || events.Count == 0 ? Webhooks.WebhookTypes.Default : events).Contains(type);
}
