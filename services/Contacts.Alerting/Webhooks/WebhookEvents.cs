using System.ComponentModel;

namespace Contacts.Alerting.Webhooks;

/// <summary>
/// Every event a CRM can subscribe to, in one envelope: {"type", "id", "timestamp", "tenant", "data"}. The id is the
/// webhook-id (one per change, the same on every retry and for every subscription), signed per Standard Webhooks.
/// </summary>
public sealed record WebhookEnvelope<TData>(
    [property: Description("The event type, e.g. alert.raised or customer.merged.")] string Type,
    [property: Description("The event's id: the webhook-id header, one per change, the same on every retry and for every subscription.")] Guid Id,
    [property: Description("When the change happened.")] DateTimeOffset Timestamp,
    [property: Description("The tenant whose change it is.")] string Tenant,
    TData Data);

/// <summary>Identity's changes a CRM follows to keep its customer records right; customers are named by id, never by identifier.</summary>
public static class CustomerWebhookTypes
{
    public const string Merged = "customer.merged";
    public const string Split = "customer.split";
    public const string Erased = "customer.erased";
    public static readonly string[] All = [Merged, Split, Erased];
}

/// <summary>
/// Operational events about the tenant's own subscriptions, each once per episode and never to the subscription it is
/// about: failing at the 4th failed attempt in a row, disabled when it is switched off, recovered at the first success after.
/// </summary>
public static class SubscriptionWebhookTypes
{
    public const string Failing = "subscription.failing";
    public const string Disabled = "subscription.disabled";
    public const string Recovered = "subscription.recovered";
    public static readonly string[] All = [Failing, Disabled, Recovered];
}

/// <summary>A platform source of the tenant went quiet past the tenant's gap, or sent again (ingestion watches its sources).</summary>
public static class SourceWebhookTypes
{
    public const string Silent = "source.silent";
    public const string Recovered = "source.recovered";
    public static readonly string[] All = [Silent, Recovered];
}

/// <summary>
/// The customer's story (effort's moment watch): a contact became a moment of misery (once per contact), and the loyalty
/// account fell below the tenant's floor (once per crossing).
/// </summary>
public static class StoryWebhookTypes
{
    public const string MomentMisery = "moment.misery";
    public const string LedgerBalanceLow = "ledger.balance_low";
    public static readonly string[] All = [MomentMisery, LedgerBalanceLow];
}

/// <summary>Which operational event an attempt's outcome announces, as a pure rule over the subscription's run of failures.</summary>
public static class SubscriptionHealth
{
    /// <summary>The failed attempt in a row that makes a subscription failing (Svix warns at the same point of its schedule).</summary>
    public const int FailingAfter = 4;

    /// <param name="effect">What the attempt did to the subscription.</param>
    /// <param name="failedInRow">Failed attempts in a row, this one included (0 after a success).</param>
    /// <param name="announced">Whether this episode was already announced (as failing or disabled).</param>
    /// <param name="wasEnabled">For Disable: whether it was enabled until this attempt (a second disable is no news).</param>
    public static string? Announce(Subscriptions.SubscriptionEffect effect, int failedInRow, bool announced, bool wasEnabled) => effect switch
    {
        Subscriptions.SubscriptionEffect.Healthy when announced => SubscriptionWebhookTypes.Recovered,
        Subscriptions.SubscriptionEffect.Failing when failedInRow >= FailingAfter && !announced => SubscriptionWebhookTypes.Failing,
        Subscriptions.SubscriptionEffect.Disable when wasEnabled => SubscriptionWebhookTypes.Disabled,
        _ => null,
    };
}

/// <summary>Every type a subscription may name, and the types it gets when it names none (the alert types, as before customer events).</summary>
public static class WebhookTypes
{
    public const string Test = "test";
    public static readonly string[] Subscribable = [.. AlertWebhookTypes.All, .. CustomerWebhookTypes.All, .. SubscriptionWebhookTypes.All, .. SourceWebhookTypes.All,
        .. StoryWebhookTypes.All];
    public static IReadOnlyList<string> Default => AlertWebhookTypes.All;
}

public sealed record CustomerMergedData(
    [property: Description("The customer that carries on; the merged ids now answer for it.")] Guid SurvivorId,
    [property: Description("The customers merged into it: records held under these ids belong to the survivor now.")] IReadOnlyList<Guid> MergedIds,
    [property: Description("The identifier types that joined them (phone, email, crmId, accountNumber, handle, deviceId); never their values.")]
    IReadOnlyList<string> IdentifierTypes);

public sealed record CustomerSplitData(
    [property: Description("The customer a merge was reverted on; it keeps its own contacts.")] Guid CustomerId,
    [property: Description("The customer that stands alone again, with the contacts it brought.")] Guid RestoredCustomerId);

public sealed record CustomerErasedData(
    [property: Description("The erased customer: delete what is held under this id.")] Guid CustomerId,
    [property: Description("Customers once merged into it, erased with it.")] IReadOnlyList<Guid> FormerCustomerIds);

public sealed record TestEventData(
    [property: Description("The subscription the test was sent to.")] Guid SubscriptionId,
    [property: Description("A fixed sentence: nothing to act on.")] string Message);

public sealed record SubscriptionEventData(
    [property: Description("The subscription this is about (never the one it is sent to).")] Guid SubscriptionId,
    [property: Description("webhook or amqp.")] string Type,
    [property: Description("Its URL (for amqp the AMQP address without the password).")] string Url,
    [property: Description("enabled or disabled, after this event.")] string Status,
    [property: Description("Start of the run of failed attempts; absent once recovered.")] DateTimeOffset? FailingSince,
    [property: Description("Failed attempts in a row so far (0 once recovered).")] int FailedAttempts,
    [property: Description("The last attempt's status code; absent when none came.")] int? LastStatusCode,
    [property: Description("What went wrong on the last attempt.")] string? LastError,
    [property: Description("Why it was disabled.")] string? DisabledReason);

public sealed record SourceEventData(
    [property: Description("The source as its events name it (amazon-connect, zendesk, or a canonical event's source).")] string Source,
    [property: Description("True for source.silent, false for source.recovered.")] bool Silent,
    [property: Description("When its last event came (for source.recovered: the one that ended the silence).")] DateTimeOffset? LastEventAt,
    [property: Description("The tenant's gap: quiet for longer than this many seconds is silent (PUT /v1/settings/sources).")] int SilentAfterSeconds);

public sealed record MomentMiseryData(
    [property: Description("The customer the contact belongs to (GET /v1/customers/{id}/ledger).")] Guid CustomerId,
    [property: Description("The contact (source:contactId).")] string ContactId,
    [property: Description("promise_broken, unresolved_repeat, abandoned_after_long_wait, transferred.")] IReadOnlyList<string> Reasons,
    [property: Description("When the moment was lived (for a broken promise, its due time).")] DateTimeOffset At,
    [property: Description("The customer's loyalty balance after it (0-100).")] int Balance);

public sealed record LedgerBalanceLowData(
    Guid CustomerId,
    [property: Description("The balance now, below the floor.")] int Balance,
    [property: Description("The tenant's floor (PUT /v1/settings/moments).")] int Floor,
    [property: Description("The contact whose entry took the balance below it.")] string ContactId,
    [property: Description("That entry's reason.")] string Reason,
    [property: Description("When that moment was lived.")] DateTimeOffset At);
