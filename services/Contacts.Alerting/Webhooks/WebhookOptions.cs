namespace Contacts.Alerting.Webhooks;

/// <summary>The CRM endpoint alerts are POSTed to, signed per the Standard Webhooks spec ("Alerting:Webhook").</summary>
public sealed class WebhookOptions
{
    /// <summary>Where to POST alerts; no deliveries are queued when empty (CRMs may bind a queue instead).</summary>
    public string? Url { get; set; }

    /// <summary>The signing secret, "whsec_" followed by base64 (as Standard Webhooks libraries expect).</summary>
    public string? Secret { get; set; }

    /// <summary>A 2xx within this counts as delivered.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Delays before each attempt: Svix's schedule, about 28 hours in all.</summary>
    public TimeSpan[] RetrySchedule { get; set; } =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    public int BatchSize { get; set; } = 32;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Wakes the dispatcher when a delivery has just been queued.</summary>
public sealed class WebhookSignal : Contacts.ServiceDefaults.Outbox.WakeSignal;
