using Contacts.Alerting.Subscriptions;

namespace Contacts.Alerting.Webhooks;

/// <summary>
/// Webhook delivery ("Alerting:Webhook"): tenants' subscriptions, and optionally one deployment-wide CRM endpoint set by
/// the operator (every tenant's alerts, as before subscriptions existed), both signed per the Standard Webhooks spec.
/// </summary>
public sealed class WebhookOptions
{
    /// <summary>The deployment-wide endpoint (the operator's: may be private, never the metadata address; redirects not followed); none when empty.</summary>
    public string? Url { get; set; }

    /// <summary>The event types the deployment-wide endpoint gets (Alerting:Webhook:Events); the alert types when not set.</summary>
    public string[]? Events { get; set; }

    public bool DeploymentWants(string type) => (Events is { Length: > 0 } named ? named : WebhookTypes.Default).Contains(type);

    /// <summary>The deployment-wide endpoint's signing secret, "whsec_" followed by base64 (as Standard Webhooks libraries expect).</summary>
    public string? Secret { get; set; }

    /// <summary>Let subscriptions call loopback, private, link-local and unique-local addresses (a local stand-in CRM); never the metadata address.</summary>
    public bool AllowPrivateAddresses { get; set; }

    /// <summary>A 2xx within this counts as delivered.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Delays before each attempt; DeliveryPolicy.DefaultSchedule (about three days) when not set.</summary>
    public TimeSpan[]? RetrySchedule { get; set; }

    public IReadOnlyList<TimeSpan> Schedule => RetrySchedule is { Length: > 0 } set ? set : DeliveryPolicy.DefaultSchedule;

    /// <summary>A subscription whose every attempt failed for this long is disabled.</summary>
    public TimeSpan DisableAfter { get; set; } = DeliveryPolicy.DefaultDisableAfter;

    /// <summary>Subscriptions a tenant may hold.</summary>
    public int MaxSubscriptionsPerTenant { get; set; } = 50;

    public int BatchSize { get; set; } = 32;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Wakes the dispatcher when a delivery has just been queued.</summary>
public sealed class WebhookSignal : Contacts.Messaging.Outbox.WakeSignal;
