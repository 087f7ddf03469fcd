using System.ComponentModel;
using System.Text.Json;
using Contacts.Alerting.Webhooks;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;

namespace Contacts.Alerting.Subscriptions;

/// <summary>
/// POST /v1/subscriptions, as a CRM writes it: {"url": "https://...", "events": ["alert.raised", ...]} for a webhook, or
/// {"type": "amqp", "events": [...]} for a queue of its own; events left out: the alert types (customer types are opt-in).
/// </summary>
public sealed record SubscriptionInput(
    [property: Description("webhook (the default), or amqp for a queue of the tenant's own (then no url).")] string? Type,
    [property: Description("Where to POST: absolute http(s), at most 2048 characters, no credentials; not a loopback, private, link-local, "
        + "unique-local or metadata address. Left out for amqp.")] string? Url,
    [property: Description("One or more of alert.raised, alert.escalated, alert.acknowledged, alert.resolved, customer.merged, customer.split, "
        + "customer.erased (GET /v1/event-types); the four alert types when left out.")] string[]? Events);

/// <summary>A valid request: webhook or amqp, where to send (webhooks), and which types (in the order of WebhookTypes.Subscribable).</summary>
public sealed record NewSubscription(string Type, string? Url, IReadOnlyList<string> Events)
{
    /// <summary>What an Idempotency-Key stands for: a replay with another request under the same key is refused.</summary>
    public string Fingerprint => $"{Type}\n{Url}\n{string.Join(',', Events)}";
}

public static class SubscriptionRequest
{
    /// <summary>The request's rules in the published schema, from the same constants the parser checks.</summary>
    public static IServiceCollection DescribeSubscriptionSchema(this IServiceCollection services) =>
        services.DescribeSchema<SubscriptionInput>(schema =>
        {
            var type = schema.Property("type").OneOf([WebhookType, AmqpType]);
            type.Default = WebhookType;
            schema.Property("url").MaxLength = 2048;
            var events = schema.Property("events");
            events.MinItems = 1;
            if (events.Items is Microsoft.OpenApi.OpenApiSchema items)
            {
                items.OneOf(WebhookTypes.Subscribable);
            }
        });

    public const string WebhookType = "webhook";
    public const string AmqpType = "amqp";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    public static (NewSubscription? Subscription, Dictionary<string, string[]> Errors) Parse(string body, bool allowPrivate)
    {
        var (input, errors) = JsonBody.Read<SubscriptionInput>(body, Json);
        if (input is null)
        {
            return (null, errors);
        }
        var type = input.Type ?? WebhookType;
        if (type is not (WebhookType or AmqpType))
        {
            errors["type"] = [$"must be '{WebhookType}' (the default) or '{AmqpType}'"];
        }
        else if (type == AmqpType && input.Url is not null)
        {
            errors["url"] = ["must be left out for an amqp subscription (the answer gives the queue to read)"];
        }
        else if (type == WebhookType && UrlSafety.CheckUrl(input.Url, allowPrivate) is { } why)
        {
            errors["url"] = [why];
        }
        var events = input.Events ?? [.. WebhookTypes.Default];
        if (events.Length == 0)
        {
            errors["events"] = [$"must name at least one of {string.Join(", ", WebhookTypes.Subscribable)} (leave it out for the alert types)"];
        }
        else if (events.Where(e => e is null || !WebhookTypes.Subscribable.Contains(e)).Select(e => e ?? "null").FirstOrDefault() is { } unknown)
        {
            errors["events"] = [$"'{unknown}' is not one of {string.Join(", ", WebhookTypes.Subscribable)}"];
        }
        return errors.Count > 0
            ? (null, errors)
            : (new NewSubscription(type, type == WebhookType ? input.Url : null, [.. WebhookTypes.Subscribable.Where(events.Contains)]), errors);
    }
}
