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

/// <summary>Every type a subscription may name, and the types it gets when it names none (the alert types, as before customer events).</summary>
public static class WebhookTypes
{
    public const string Test = "test";
    public static readonly string[] Subscribable = [.. AlertWebhookTypes.All, .. CustomerWebhookTypes.All];
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
