using System.Text.Json;
using Contacts.Contracts;
using Contacts.Ingestion.Events;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Platforms' own webhooks: POST /v1/webhooks/{platform}. The signature is checked on the raw body with the tenant's
/// secret for that platform ("Ingestion:Platforms:{tenant}:{platform}:Secret"), the payload mapped to canonical events,
/// each validated like a direct one, and the valid ones stored in one transaction. Unknown event types answer 202 with
/// the reason they were ignored, so the platform does not retry them forever.
/// </summary>
public static class PlatformWebhookEndpoints
{
    /// <summary>Set by the gateway: the URL the platform called, which Twilio's signature covers.</summary>
    public const string OriginalUrlHeader = "X-Contacts-Original-Url";

    public sealed record WebhookAccepted(IReadOnlyList<ContactEventEndpoints.BatchItemResult> Results, string? Ignored);

    public static IEndpointRouteBuilder MapPlatformWebhooks(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapPost("/v1/webhooks/{platform}", Accept).WithName("AcceptPlatformWebhook")
            .Documented("A platform's own webhook payload, mapped to canonical events. Signed platforms are checked on the raw body with the tenant's "
                + "secret for that platform (Ingestion:Platforms:{tenant}:{platform}:Secret), with a 5-minute tolerance where a timestamp is signed. "
                + "Unknown event types answer 202 with the reason they were ignored.",
                "amazon-connect: EventBridge 'Amazon Connect Contact Event' (unsigned; API key). genesys-cloud: "
                + "v2.detail.events.conversation.{id}.customer.start/end, bare or in EventBridge (unsigned; API key). twilio: form-encoded voice "
                + "status callbacks and messaging webhooks, X-Twilio-Signature (the key may come as the Basic auth password). zendesk: "
                + "zen:event-type:ticket.* events, X-Zendesk-Webhook-Signature with X-Zendesk-Webhook-Signature-Timestamp. webhook: a canonical "
                + "ContactEventV1 signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).")
            .Parameter("platform", "The platform that sent the payload.", PlatformAdapters.All.Select(a => a.Name))
            .Accepts<JsonElement>("application/json", "application/x-www-form-urlencoded")
            .Produces<WebhookAccepted>(StatusCodes.Status202Accepted)
            .Answers(StatusCodes.Status202Accepted, "Per-event results (as in a batch), and why the payload was ignored if it was.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .Answers(StatusCodes.Status404NotFound, "ProblemDetails: no such platform.")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return app;
    }

    internal static async Task<Results<Accepted<WebhookAccepted>, ProblemHttpResult, ValidationProblem>> Accept(string platform, HttpContext http,
        Database database, IConfiguration configuration,
        TimeProvider clock, Sources.SourceActivity sources, CancellationToken ct)
    {
        var tenantId = TenantScope.Of(http);
        if (PlatformAdapters.Find(platform) is not { } adapter)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown platform",
                detail: $"platform: must be one of {string.Join(", ", PlatformAdapters.All.Select(a => a.Name))}; got '{platform}'.");
        }
        // Signatures are over the exact bytes, so the raw body is kept as it came.
        if (await ContactEventEndpoints.ReadLimited(http.Request, ContactEventEndpoints.MaxBatchBytes, ct) is not { } body)
        {
            return ContactEventEndpoints.TooLarge(ContactEventEndpoints.MaxBatchBytes);
        }

        var url = Uri.TryCreate(http.Request.Headers[OriginalUrlHeader].ToString(), UriKind.Absolute, out var original)
            ? original
            : new Uri($"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}{http.Request.Path}{http.Request.QueryString}");
        var request = new PlatformRequest(url,
            http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, http.Request.ContentType,
            clock.GetUtcNow());

        var secret = configuration[$"Ingestion:Platforms:{tenantId}:{adapter.Name}:Secret"];
        if (adapter.RequiresSecret && string.IsNullOrEmpty(secret))
        {
            sources.Refused(tenantId, adapter.Name);
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Signature cannot be checked",
                detail: $"No {adapter.Name} signing secret is configured for this tenant (Ingestion:Platforms:{tenantId}:{adapter.Name}:Secret).");
        }
        PlatformMapping mapped;
        try
        {
            // Checking a signature can mean reading the payload (Twilio signs its form parameters), which can find it unreadable.
            if (adapter.Verify(request, secret) is { } signatureError)
            {
                sources.Refused(tenantId, adapter.Name);
                return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Bad signature", detail: signatureError);
            }
            mapped = adapter.Map(request);
        }
        catch (PlatformFormatException ex)
        {
            sources.Refused(tenantId, adapter.Name);
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [ex.Field] = [ex.Rule] },
                title: $"The {adapter.Name} payload could not be read");
        }

        var now = clock.GetUtcNow();
        var validated = mapped.Events.Select(e => ContactEventValidator.Validate(e, tenantId, Guid.CreateVersion7(), now)).ToList();
        var results = await database.InTransactionTogether(ContactEventEndpoints.StoreTogether, async session =>
        {
            var valid = validated.Where(v => v.IsValid).Select(v => v.Event!).ToList();
            var outcomes = valid.Count > 0 ? await ContactEventEndpoints.StoreMany(session, valid, ct) : [];
            var (items, next) = (new List<ContactEventEndpoints.BatchItemResult>(), 0);
            for (var i = 0; i < validated.Count; i++)
            {
                if (!validated[i].IsValid)
                {
                    items.Add(new(i, StatusCodes.Status400BadRequest, null, null, validated[i].Errors));
                    continue;
                }
                var (id, duplicate) = outcomes[next++];
                items.Add(new(i, StatusCodes.Status202Accepted, id, duplicate, null));
            }
            return items;
        }, ct);
        foreach (var bySource in validated.Where(v => v.IsValid).GroupBy(v => v.Event!.Source))
        {
            sources.Accepted(tenantId, bySource.Key, bySource.Count());
        }
        if (results.Count > 0 && results.All(r => r.Status == StatusCodes.Status400BadRequest))
        {
            sources.Refused(tenantId, adapter.Name);
            return TypedResults.ValidationProblem(results.SelectMany(r => r.Errors!).GroupBy(e => e.Key)
                .ToDictionary(g => g.Key, g => g.SelectMany(e => e.Value).Distinct().ToArray()),
                title: $"The {adapter.Name} payload maps to no valid contact event");
        }
        return TypedResults.Accepted((string?)null, new WebhookAccepted(results, mapped.Ignored));
    }
}
