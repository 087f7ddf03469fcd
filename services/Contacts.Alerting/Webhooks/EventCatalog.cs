using System.ComponentModel;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using Contacts.Alerting.Alerts;
using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Contacts.Alerting.Webhooks;

public sealed record EventTypeEntry(
    [property: Description("The type, as in the envelope's type and a subscription's events.")] string Type,
    string Description,
    [property: Description("Whether a subscription may name it (test is sent on request only).")] bool Subscribable,
    [property: Description("JSON Schema (2020-12) of the whole body: the envelope with this type's data.")] JsonNode Schema,
    [property: Description("A body of this type as it is delivered.")] JsonNode Example);

public sealed record EventTypeCatalog(IReadOnlyList<EventTypeEntry> EventTypes);

public sealed record TestEventSent(
    [property: Description("The test event's id: its webhook-id header.")] Guid WebhookId,
    string Type);

/// <summary>
/// The event catalog: every event a subscriber can receive, each with the JSON Schema of its body (made from the very
/// types the bodies are serialised from) and an example, and a signed test event on request.
/// </summary>
public static class EventCatalog
{
    private const string Tenant = "acme";
    private static readonly DateTimeOffset At = new(2026, 11, 20, 10, 15, 0, TimeSpan.Zero);
    private static readonly Guid Customer = Guid.Parse("0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b");
    private static readonly Guid Other = Guid.Parse("0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6c");
    private static readonly Guid Alert = Guid.Parse("0193a5b3-0000-7000-8000-000000000001");

    /// <summary>Options for the schemas: constructor parameters are required and nullable annotations are kept, as the bodies are written.</summary>
    private static readonly JsonSerializerOptions SchemaOptions = new(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    public static IReadOnlyList<EventTypeEntry> All { get; } = Build();

    private static List<EventTypeEntry> Build()
    {
        var alert = new AlertWebhookData(Alert, Customer, "high_effort", "open", 0, 72,
            [new EffortDriver("repeat_contact", 40, "3 contacts about billing in 2 days", ["zendesk:48213"], 2)], Guid.Parse("0193a5b2-0000-7000-8000-00000000000a"),
            Guid.Parse("0193a5b2-0000-7000-8000-00000000000b"), "billing", ["voice", "email"], At, At, null, null, null, null,
            new AlertLinks($"/v1/alerts/{Alert}", $"/v1/customers/{Customer}/context"));
        List<EventTypeEntry> entries = [.. AlertWebhookTypes.All.Select(type => Entry(type, AlertWebhookDocument.Summaries[type], true, alert))];
        entries.Add(Entry(CustomerWebhookTypes.Merged, "Two or more customers turned out to be one person: the merged ids now answer for the survivor. "
            + "Move what you hold under a merged id to the survivor.", true, new CustomerMergedData(Customer, [Other], ["email"])));
        entries.Add(Entry(CustomerWebhookTypes.Split, "A merge was reverted: the restored customer stands alone again with the contacts it brought. "
            + "Keep both records.", true, new CustomerSplitData(Customer, Other)));
        entries.Add(Entry(CustomerWebhookTypes.Erased, "A customer was erased (right to erasure), with the customers once merged into it: delete what "
            + "you hold under these ids.", true, new CustomerErasedData(Customer, [Other])));
        var failing = new SubscriptionEventData(Other, "webhook", "https://crm.example.com/hooks/contacts", "enabled", At.AddMinutes(-40), 4, 503,
            "503 Service Unavailable", null);
        entries.Add(Entry(SubscriptionWebhookTypes.Failing, "Another subscription of the tenant has failed 4 attempts in a row: its endpoint needs "
            + "attention before it is disabled. Once per run of failures; never sent to the subscription it is about.", true, failing));
        entries.Add(Entry(SubscriptionWebhookTypes.Disabled, "Another subscription of the tenant was disabled (410 Gone, or failing for the whole "
            + "disable window): nothing is queued for it until POST /v1/subscriptions/{id}/enable. Never sent to the subscription it is about.", true,
            failing with { Status = "disabled", FailedAttempts = 9, DisabledReason = "every attempt failed since 2026-11-19T10:15:00Z (over 24 h)" }));
        entries.Add(Entry(SubscriptionWebhookTypes.Recovered, "A subscription announced as failing or disabled delivered again. Never sent to the "
            + "subscription it is about.", true, failing with { FailingSince = null, FailedAttempts = 0, LastStatusCode = 200, LastError = null }));
        entries.Add(Entry(SourceWebhookTypes.Silent, "A platform source of the tenant that was sending has been quiet for longer than the tenant's "
            + "gap (PUT /v1/settings/sources): check the platform's webhook or integration. Once until it sends again.", true,
            new SourceEventData("amazon-connect", true, At.AddMinutes(-31), 1800)));
        entries.Add(Entry(SourceWebhookTypes.Recovered, "A silent source sent again.", true, new SourceEventData("amazon-connect", false, At, 1800)));
        entries.Add(Entry(StoryWebhookTypes.MomentMisery, "A contact of the customer became a moment of misery (a promise broken, an unresolved "
            + "repeat, abandoned after a long wait, transferred again): once per contact, the first time it is misery; contacts older than the "
            + "journey window raise none. The customer's ledger (GET /v1/customers/{id}/ledger) has the withdrawal.", true,
            new MomentMiseryData(Customer, "genesys-cloud:7f1c2a9e", ["promise_broken"], At.AddMinutes(-1), 30)));
        entries.Add(Entry(StoryWebhookTypes.LedgerBalanceLow, "The customer's loyalty account fell below the tenant's floor (PUT /v1/settings/moments): "
            + "once per crossing; it must be back at the floor before the next.", true,
            new LedgerBalanceLowData(Customer, 25, 30, "genesys-cloud:7f1c2a9e", "promise_broken", At.AddMinutes(-1))));
        entries.Add(Entry(WebhookTypes.Test, "Sent by POST /v1/subscriptions/{id}/test to that subscription alone, signed as every event: "
            + "to check an endpoint. Nothing to act on.", false, new TestEventData(Other, TestMessage)));
        return entries;
    }

    public const string TestMessage = "A test event from Contacts: your endpoint received and can verify it.";

    private static EventTypeEntry Entry<TData>(string type, string description, bool subscribable, TData example)
    {
        var schema = SchemaOptions.GetJsonSchemaAsNode(typeof(WebhookEnvelope<TData>), new JsonSchemaExporterOptions
        {
            TransformSchemaNode = (context, node) =>
            {
                var described = context.PropertyInfo?.AttributeProvider?.GetCustomAttributes(typeof(DescriptionAttribute), true)
                    .OfType<DescriptionAttribute>().FirstOrDefault()
                    ?? (context.PropertyInfo?.AttributeProvider is ParameterInfo p ? p.GetCustomAttribute<DescriptionAttribute>() : null);
                if (described is not null && node is JsonObject o)
                {
                    o["description"] = described.Description;
                }
                return node;
            },
        });
        var root = schema.AsObject();
        root.Insert(0, "$schema", "https://json-schema.org/draft/2020-12/schema");
        root.Insert(1, "title", type);
        root["properties"]!["type"] = new JsonObject { ["const"] = type, ["description"] = "The event type." };
        var body = JsonSerializer.SerializeToNode(new WebhookEnvelope<TData>(type, Guid.Parse("0193a5b4-0000-7000-8000-000000000042"), At, Tenant, example),
            JsonSerializerOptions.Web)!;
        return new EventTypeEntry(type, description, subscribable, root, body);
    }

    public static IEndpointRouteBuilder MapEventCatalog(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapGet("/v1/event-types", List).WithName("ListEventTypes")
            .Documented("Every event a subscription can receive (and the test event), each with the JSON Schema of its body and an example.",
                "Every body is {type, id, timestamp, tenant, data}: id is the webhook-id, the same on every retry and for every subscription. A "
                + "subscription that names no events gets the alert types; customer types are opt-in.")
            .Answers(StatusCodes.Status200OK, "The catalog.");
        scoped.MapPost("/v1/subscriptions/{id:guid}/test", SendTest).WithName("SendTestEvent")
            .Documented("Send a signed test event to this subscription alone, now, to check the endpoint (it shows in the delivery log).")
            .Answers(StatusCodes.Status202Accepted, "Queued: the webhook-id of the test event.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .Answers(StatusCodes.Status409Conflict, "ProblemDetails: the subscription is disabled; nothing is sent to it.");
        return app;
    }

    internal static Ok<EventTypeCatalog> List() => TypedResults.Ok(new EventTypeCatalog(All));

    internal static async Task<Results<Accepted<TestEventSent>, ProblemHttpResult>> SendTest(Guid id, HttpContext http, Database database,
        IOptions<WebhookOptions> webhooks, WebhookSignal signal, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var webhookId = Guid.CreateVersion7();
        var (exists, queued) = await database.InTransaction(async session =>
        {
            if (!await session.Scalar<bool>("select exists (select 1 from webhook_subscriptions where tenant_id = @tenant and id = @id)",
                    new { tenant, id }, ct))
            {
                return (false, false);
            }
            return (true, await WebhookQueue.Enqueue(session, tenant, webhookId, WebhookTypes.Test, DateTimeOffset.UtcNow,
                new TestEventData(id, TestMessage), webhooks.Value, ct, onlySubscription: id));
        }, ct);
        if (!exists)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No subscription {id} in this tenant.");
        }
        if (!queued)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Subscription disabled",
                detail: $"Subscription {id} is disabled: nothing is sent to it.");
        }
        signal.Notify();
        return TypedResults.Accepted((string?)null, new TestEventSent(webhookId, WebhookTypes.Test));
    }

}
