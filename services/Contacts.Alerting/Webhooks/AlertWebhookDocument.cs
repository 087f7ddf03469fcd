using System.ComponentModel;
using Contacts.ServiceDefaults.OpenApi;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Contacts.Alerting.Webhooks;

/// <summary>The body of every alert webhook, as <see cref="WebhookQueue"/> writes it.</summary>
public sealed record AlertWebhook(
    [property: Description("alert.raised, alert.escalated, alert.acknowledged or alert.resolved.")] string Type,
    [property: Description("The event's id: the webhook-id header, one per change, the same on every retry and for every subscription.")] Guid Id,
    [property: Description("When the alert changed (its updatedAt).")] DateTimeOffset Timestamp,
    [property: Description("The tenant whose alert it is.")] string Tenant,
    [property: Description(AlertWebhookDocument.DataDescription)] AlertWebhookData Data);

/// <summary>
/// The webhooks alerting sends to CRMs, in the document's "webhooks" (OpenAPI 3.1): one POST per alert webhook type, with
/// the body generated from <see cref="AlertWebhook"/> and the Standard Webhooks headers.
/// </summary>
public static class AlertWebhookDocument
{
    public const string DataDescription =
        "The alert as it is after the change. Identifiers are not in it (alerting never holds them): read them from links.customerContext.";

    internal static readonly Dictionary<string, string> Summaries = new()
    {
        [AlertWebhookTypes.Raised] = "An alert was raised: a customer's score crossed the threshold, or a driver rule held.",
        [AlertWebhookTypes.Escalated] = "An active alert's score reached a higher escalation level (once per level).",
        [AlertWebhookTypes.Acknowledged] = "An alert was acknowledged through the API; it stays active.",
        [AlertWebhookTypes.Resolved] = "An alert was resolved: through the API, or by itself when its rule no longer holds.",
    };

    public static IServiceCollection DescribeAlertWebhooks(this IServiceCollection services) =>
        services.Configure<OpenApiOptions>(PublicApiDocument.Name, options => options.AddDocumentTransformer(async (document, context, ct) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            var envelope = await context.GetOrCreateSchemaAsync(typeof(AlertWebhook), null, ct);
            var data = await context.GetOrCreateSchemaAsync(typeof(AlertWebhookData), null, ct);
            if (data is OpenApiSchema described)
            {
                described.Description = DataDescription;
            }
            document.Components.Schemas[nameof(AlertWebhookData)] = data;
            // The data by reference to its own schema, not inlined in the envelope.
            envelope.Properties![nameof(AlertWebhook.Data).ToLowerInvariant()] = new OpenApiSchemaReference(nameof(AlertWebhookData), document);
            document.Components.Schemas[nameof(AlertWebhook)] = envelope;
            // Customer events and the test event: the same envelope around their own data.
            var others = new List<(string Type, string Schema, string Summary)>();
            foreach (var entry in EventCatalog.All.Where(e => !AlertWebhookTypes.All.Contains(e.Type)))
            {
                var (schemaName, dataType) = entry.Type switch
                {
                    CustomerWebhookTypes.Merged => ("CustomerMergedWebhook", typeof(CustomerMergedData)),
                    CustomerWebhookTypes.Split => ("CustomerSplitWebhook", typeof(CustomerSplitData)),
                    CustomerWebhookTypes.Erased => ("CustomerErasedWebhook", typeof(CustomerErasedData)),
                    _ when SubscriptionWebhookTypes.All.Contains(entry.Type) => ("SubscriptionWebhook", typeof(SubscriptionEventData)),
                    _ when SourceWebhookTypes.All.Contains(entry.Type) => ("SourceWebhook", typeof(SourceEventData)),
                    StoryWebhookTypes.MomentMisery => ("MomentMiseryWebhook", typeof(MomentMiseryData)),
                    StoryWebhookTypes.LedgerBalanceLow => ("LedgerBalanceLowWebhook", typeof(LedgerBalanceLowData)),
                    _ => ("TestWebhook", typeof(TestEventData)),
                };
                document.Components.Schemas[schemaName] = await context.GetOrCreateSchemaAsync(typeof(WebhookEnvelope<>).MakeGenericType(dataType), null, ct);
                others.Add((entry.Type, schemaName, entry.Description));
            }
            document.Webhooks ??= new Dictionary<string, IOpenApiPathItem>();
            foreach (var (type, schema, summary) in AlertWebhookTypes.All.Select(t => (t, nameof(AlertWebhook), Summaries[t])).Concat(others))
            {
                document.Webhooks[type] = new OpenApiPathItem
                {
                    Operations = new Dictionary<HttpMethod, OpenApiOperation>
                    {
                        [HttpMethod.Post] = new()
                        {
                            OperationId = "Webhook" + string.Concat(type.Split('.', '_').Select(w => char.ToUpperInvariant(w[0]) + w[1..])),
                            Summary = summary,
                            Description = "POSTed to every enabled subscription of the tenant that asked for this type (and to the deployment-wide "
                                + "webhook when its configuration names it), signed per Standard Webhooks with the subscription's secret. A 2xx within "
                                + "15 s counts; 410 disables the subscription; anything else is retried for about three days under the same webhook-id. "
                                + "GET /v1/event-types gives its JSON Schema and an example.",
                            Tags = new HashSet<OpenApiTagReference> { new("alerting", document) },
                            Parameters =
                            [
                                Header("webhook-id", "Stable across retries and redeliveries: de-duplicate on it (the alert id for alert.raised)."),
                                Header("webhook-timestamp", "Seconds since the Unix epoch when this attempt was signed."),
                                Header("webhook-signature", "v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">; after a secret rotation, a second v1,... "
                                    + "signed with the old secret for 24 h."),
                            ],
                            RequestBody = new OpenApiRequestBody
                            {
                                Required = true,
                                Content = new Dictionary<string, OpenApiMediaType>
                                {
                                    ["application/json"] = new() { Schema = new OpenApiSchemaReference(schema, document) },
                                },
                            },
                            Responses = new OpenApiResponses
                            {
                                ["2XX"] = new OpenApiResponse { Description = "Received." },
                                ["410"] = new OpenApiResponse { Description = "Gone: the subscription is disabled and nothing more is sent to it." },
                            },
                        },
                    },
                };
            }
        }));

    private static OpenApiParameter Header(string name, string description) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = true,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
    };
}
