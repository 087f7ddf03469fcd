using System.ComponentModel;
using Contacts.Alerting.Paging;
using Contacts.Alerting.Webhooks;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Contacts.ServiceDefaults.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Contacts.Alerting.Subscriptions;

/// <summary>
/// A subscription as GET shows it (never its secret or password): disabled ones say why and since when; a queue
/// subscription's url is its AMQP address without the password, and Queue the queue it reads.
/// </summary>
public sealed record SubscriptionView(
    Guid Id,
    [property: Description("webhook or amqp.")] string Type,
    [property: Description("The webhook URL; for amqp the AMQP address without the password.")] string Url,
    [property: Description("The alert webhook types it receives.")] IReadOnlyList<string> Events,
    [property: Description("enabled, paused (deliveries wait, in order, for resume) or disabled (by a 410 answer, or every attempt failing for a day; nothing is queued until enable).")] string Status,
    [property: Description("Why it was disabled.")] string? DisabledReason,
    DateTimeOffset? DisabledAt,
    [property: Description("Start of the current run of failed attempts (absent when the last attempt succeeded).")] DateTimeOffset? FailingSince,
    [property: Description("Until when the secret before the last rotation still signs.")] DateTimeOffset? PreviousSecretExpiresAt,
    DateTimeOffset CreatedAt,
    [property: Description("For amqp: the queue its credentials may read.")] string? Queue);

/// <summary>The answer to a create, shown this once: a webhook's signing secret, or a queue's address and credentials.</summary>
public sealed record SubscriptionCreated(
    Guid Id,
    string Type,
    string Url,
    IReadOnlyList<string> Events,
    string Status,
    DateTimeOffset CreatedAt,
    [property: Description("whsec_ + base64: the Standard Webhooks signing secret of a webhook, shown only here.")] string? Secret,
    [property: Description("For amqp, shown only here: where to connect and as whom; the user may read its queue and nothing else.")] QueueAccessGranted? Amqp);

public sealed record SubscriptionPage(
    IReadOnlyList<SubscriptionView> Items, [property: Description("Cursor for the next page (the after parameter); absent on the last page.")] string? Next);

/// <summary>A new secret; the previous one keeps signing (as a second signature) until PreviousSecretExpiresAt.</summary>
public sealed record SecretRotated(Guid Id, string Secret, DateTimeOffset PreviousSecretExpiresAt);

/// <summary>One POST to the subscriber: when, its answer's status (none on a timeout or refused connection), how long it took, what went wrong.</summary>
public sealed record DeliveryAttemptView(
    DateTimeOffset At,
    [property: Description("The answer's status; absent when none came (timeout, refused connection, refused address).")] int? StatusCode,
    int LatencyMs,
    string? Error);

/// <summary>One webhook to one subscription, with every attempt; WebhookId is the webhook-id header (the same on every retry).</summary>
public sealed record DeliveryView(
    [property: Description("The delivery (to redeliver).")] Guid Id,
    Guid SubscriptionId,
    [property: Description("The webhook-id header: the same on every attempt and redelivery.")] Guid WebhookId,
    string EventType,
    [property: Description("The alert it is about; absent for a customer or test event.")] Guid? AlertId,
    [property: Description("The customer it is about, for a customer event.")] Guid? CustomerId,
    [property: Description("pending, delivered, failed (after the last retry) or disabled.")] string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    IReadOnlyList<DeliveryAttemptView> Attempts);

public sealed record DeliveryPage(
    IReadOnlyList<DeliveryView> Items, [property: Description("Cursor for the next page (the after parameter); absent on the last page.")] string? Next);

/// <summary>Tenants' webhook subscriptions, their delivery log and redelivery (all under the tenant of the API key).</summary>
public static class SubscriptionEndpoints
{
    public const string IdempotencyHeader = "Idempotency-Key";
    private static readonly TimeSpan PreviousSecretLifetime = TimeSpan.FromHours(24);

    public static IEndpointRouteBuilder MapSubscriptions(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        var group = scoped.MapGroup("/v1/subscriptions");
        group.MapPost("/", Create).WithName("CreateSubscription")
            .Documented("Subscribe a URL to the tenant's alert webhooks (or, with type amqp, a queue of its own); secrets are in this answer only.",
                "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), retried with backoff for about three days; 410, or every "
                + "attempt failing for a day, disables the subscription. The URL must be http(s) and must not be or resolve to a loopback, private, "
                + "link-local or unique-local address (unless the operator allows private ones) nor the cloud metadata address (never); this is "
                + "checked again on every connection, and redirects are not followed. With an Idempotency-Key header a retry with the same key and "
                + "body answers the same subscription and secret; the key with another body is 422. With type amqp: a durable queue receiving "
                + "only this tenant's events and a broker user that may read that queue alone (no declaring, binding or publishing); the answer "
                + "gives the AMQP address, queue and credentials once.")
            .Accepts<SubscriptionInput>("application/json")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = IdempotencyHeader,
                    In = ParameterLocation.Header,
                    Description = "Makes a retry safe: the same key and body answer the same subscription (up to 255 characters).",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
                });
                return Task.CompletedTask;
            })
            .Answers(StatusCodes.Status201Created, "Subscribed; the secret is shown in this answer only (and to a retry with the same Idempotency-Key).")
            .Answers(StatusCodes.Status400BadRequest, "ValidationProblemDetails: errors keyed by field (url, events, type), each with the rule broken.")
            .Answers(StatusCodes.Status409Conflict, "ProblemDetails: the tenant holds the most subscriptions allowed.")
            .Answers(StatusCodes.Status422UnprocessableEntity,
                "ProblemDetails: the Idempotency-Key was used for a different request, or (amqp) this deployment has no broker management API.");
        group.MapGet("/", List).WithName("ListSubscriptions")
            .Documented("The tenant's subscriptions, newest first, a page at a time (never their secrets).")
            .Paged("Subscriptions", PageQuery.DefaultLimit, PageQuery.MaxLimit)
            .Answers(StatusCodes.Status200OK, "A page of subscriptions.");
        group.MapGet("/{id:guid}", Get).WithName("GetSubscription")
            .Documented("One subscription: enabled or disabled, and when disabled why and since when.")
            .Answers(StatusCodes.Status200OK, "The subscription.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:guid}", Delete).WithName("DeleteSubscription")
            .Documented("Remove a subscription: nothing more is sent to it, and its delivery log goes with it; for amqp its queue and broker user too.")
            .Answers(StatusCodes.Status204NoContent, "Removed.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/rotate-secret", RotateSecret).WithName("RotateSubscriptionSecret")
            .Documented("A new signing secret; for 24 h the old one keeps signing too, as a second signature in webhook-signature.")
            .Answers(StatusCodes.Status200OK, "The new secret, shown once, and until when the old one still signs.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .Answers(StatusCodes.Status409Conflict, "ProblemDetails: a queue subscription has no signing secret.");
        group.MapGet("/{id:guid}/deliveries", Deliveries).WithName("ListSubscriptionDeliveries")
            .Documented("The subscription's deliveries, newest first, each with every attempt: time, status code, latency and error.")
            .Paged("Deliveries", PageQuery.DefaultLimit, PageQuery.MaxLimit)
            .Answers(StatusCodes.Status200OK, "A page of deliveries.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        scoped.MapPost("/v1/deliveries/{id:guid}/redeliver", Redeliver).WithName("Redeliver")
            .Documented("Send a delivery again now, with the same webhook-id, on a fresh retry schedule (one already queued is brought forward).")
            .Answers(StatusCodes.Status202Accepted, "Queued again.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .Answers(StatusCodes.Status409Conflict, "ProblemDetails: the delivery's subscription is disabled.");
        return app;
    }

    internal static async Task<Results<Created<SubscriptionCreated>, ProblemHttpResult, ValidationProblem>> Create(
        HttpContext http, Database database, IOptions<WebhookOptions> options, QueueAccess queues, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var key = http.Request.Headers[IdempotencyHeader].ToString();
        if (key.Length > 255)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [IdempotencyHeader] = ["must be at most 255 characters"] });
        }
        using var reader = new StreamReader(http.Request.Body);
        var allowPrivate = options.Value.AllowPrivateAddresses;
        var (input, errors) = SubscriptionRequest.Parse(await reader.ReadToEndAsync(ct), allowPrivate);
        if (input is null)
        {
            return TypedResults.ValidationProblem(errors);
        }
        if (input.Url is not null && await ResolvesToForbidden(new Uri(input.Url), allowPrivate, ct) is { } why)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["url"] = [$"must not resolve to {why}"] });
        }

        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        if (key.Length > 0 && await SubscriptionStore.ByIdempotencyKey(connection, tenant, key, ct) is { } earlier)
        {
            return Replay(earlier, input, key);
        }
        if (await SubscriptionStore.Count(connection, tenant, ct) >= options.Value.MaxSubscriptionsPerTenant)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Too many subscriptions",
                detail: $"A tenant may hold {options.Value.MaxSubscriptionsPerTenant} subscriptions; delete one first.");
        }
        var id = Guid.CreateVersion7();
        QueueAccessGranted? access = null;
        if (input.Type == SubscriptionRequest.AmqpType)
        {
            if (!queues.Configured)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Queue subscriptions are not available",
                    detail: "This deployment has no broker management API configured (Alerting:Amqp:ManagementUrl); subscribe a webhook instead.");
            }
            if ((access = await queues.TryCreate(id, ct)) is null)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Broker unavailable",
                    detail: "The queue could not be set up on the broker; retry (with the same Idempotency-Key, it is safe).");
            }
        }
        var stored = await SubscriptionStore.Insert(connection, new NewSubscriptionRow(id, tenant, input.Type, access?.UriWithoutPassword() ?? input.Url!,
            [.. input.Events], access?.Password ?? StandardWebhooks.NewSecret(), access?.Queue, access?.Username, key.Length > 0 ? key : null,
            input.Fingerprint), ct);
        if (!stored)
        {
            // The same key won a race with this request: undo this one's queue, answer as for a retry.
            if (access is not null)
            {
                await queues.TryRemove(id);
            }
            return Replay((await SubscriptionStore.ByIdempotencyKey(connection, tenant, key, ct))!.Value, input, key);
        }
        var created = (await SubscriptionStore.Created(connection, tenant, id, ct))!.Value.Value;
        return TypedResults.Created($"/v1/subscriptions/{id}", created);
    }

    /// <summary>A retry with the same Idempotency-Key gets the same answer (with the current secret); another request under it is refused.</summary>
    private static Results<Created<SubscriptionCreated>, ProblemHttpResult, ValidationProblem> Replay(
        (SubscriptionCreated Value, string Fingerprint) earlier, NewSubscription input, string key) =>
        earlier.Fingerprint == input.Fingerprint
            ? TypedResults.Created($"/v1/subscriptions/{earlier.Value.Id}", earlier.Value)
            : TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused",
                detail: $"Idempotency-Key '{key}' was used for a different subscription request ({earlier.Value.Id}); use a new key.");

    /// <summary>The create-time check on the name's current addresses (the send-time check repeats it on every connection); unresolvable names pass.</summary>
    private static async Task<string?> ResolvesToForbidden(Uri url, bool allowPrivate, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            foreach (var address in await GuardedConnect.Resolve(url.IdnHost, timeout.Token))
            {
                if (UrlSafety.Refusal(address, allowPrivate) is { } why)
                {
                    return why;
                }
            }
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
        }
        return null;
    }

    internal static async Task<Results<Ok<SubscriptionPage>, ProblemHttpResult, ValidationProblem>> List(
        [AsParameters] PageRequest page, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var errors = new Dictionary<string, string[]>();
        var (limit, after) = PageQuery.Read(page, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var items = await SubscriptionStore.Page(database.DataSource, tenant, after, limit + 1, ct);
        return TypedResults.Ok(new SubscriptionPage([.. items.Take(limit)], items.Count > limit ? items[limit - 1].Id.ToString() : null));
    }

    internal static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> Get(
        Guid id, HttpContext http, Database database, CancellationToken ct) =>
        await SubscriptionStore.Find(database.DataSource, TenantScope.Of(http), id, ct) is { } found ? TypedResults.Ok(found) : NotFound(id);

    /// <summary>Removes the subscription; for a queue subscription the broker's user and queue first (so a failure there can be retried).</summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        Guid id, HttpContext http, Database database, QueueAccess queues, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        if (await SubscriptionStore.Find(database.DataSource, tenant, id, ct) is not { } found)
        {
            return NotFound(id);
        }
        if (found.Type == SubscriptionRequest.AmqpType)
        {
            try
            {
                await queues.Remove(id, ct);
            }
            catch (Exception ex) when (ex is QueueAccessException or HttpRequestException)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Broker unavailable",
                    detail: "The queue and its user could not be removed from the broker; retry.");
            }
        }
        return await SubscriptionStore.Delete(database.DataSource, tenant, id, ct) ? TypedResults.NoContent() : NotFound(id);
    }

    internal static async Task<Results<Ok<SecretRotated>, ProblemHttpResult>> RotateSecret(
        Guid id, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var secret = StandardWebhooks.NewSecret();
        if (await SubscriptionStore.RotateSecret(database.DataSource, tenant, id, secret, PreviousSecretLifetime, ct) is { } until)
        {
            return TypedResults.Ok(new SecretRotated(id, secret, until));
        }
        return await SubscriptionStore.Find(database.DataSource, tenant, id, ct) is null
            ? NotFound(id)
            : TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "No signing secret",
                detail: "A queue subscription has no signing secret; delete it and subscribe again for new credentials.");
    }

    internal static async Task<Results<Ok<DeliveryPage>, ProblemHttpResult, ValidationProblem>> Deliveries(
        Guid id, [AsParameters] PageRequest page, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var errors = new Dictionary<string, string[]>();
        var (limit, after) = PageQuery.Read(page, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        if (await SubscriptionStore.Find(database.DataSource, tenant, id, ct) is null)
        {
            return NotFound(id);
        }
        var items = await SubscriptionStore.Deliveries(database.DataSource, id, after, limit + 1, ct);
        return TypedResults.Ok(new DeliveryPage([.. items.Take(limit)], items.Count > limit ? items[limit - 1].Id.ToString() : null));
    }

    /// <summary>
    /// Queues a delivery again now with the same webhook-id (so a CRM that did get it can de-duplicate), on a fresh retry
    /// schedule; one already queued is brought forward unless it is being sent this moment. 409 when the subscription is disabled.
    /// </summary>
    internal static async Task<Results<Accepted<DeliveryView>, ProblemHttpResult>> Redeliver(
        Guid id, HttpContext http, Database database, WebhookSignal signal, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        switch (await SubscriptionStore.SubscriptionStatusOfDelivery(connection, tenant, id, ct))
        {
            case null:
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No delivery {id} in this tenant.");
            case not "enabled":
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Subscription disabled",
                    detail: "The delivery's subscription is disabled; create a new subscription to receive webhooks again.");
        }
        await SubscriptionStore.Requeue(connection, id, ct);
        signal.Notify();
        var view = await SubscriptionStore.Delivery(connection, id, ct);
        return TypedResults.Accepted($"/v1/subscriptions/{view.SubscriptionId}/deliveries", view);
    }

    internal static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No subscription {id} in this tenant.");
}
