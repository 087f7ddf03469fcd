using System.ComponentModel;
using System.Text.Json;
using Contacts.Alerting.Webhooks;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Contacts.Alerting.Subscriptions;

/// <summary>What to re-send: the subscription's events logged since a moment, all of them or only those it has not received.</summary>
public sealed record SubscriptionReplayInput(
    [property: Description("Re-send the events logged since this moment (ISO 8601 with offset); within the event log's retention.")] DateTimeOffset? Since,
    [property: Description("failed (default): only events the subscription has not received (failed, dropped while disabled, never queued); all: every one.")] string? Only);

/// <summary>A replay and its progress, from its deliveries.</summary>
public sealed record SubscriptionReplayView(
    Guid Id,
    Guid SubscriptionId,
    DateTimeOffset Since,
    [property: Description("failed or all.")] string Only,
    [property: Description("running while any of its deliveries is pending, then done.")] string Status,
    [property: Description("Events queued again.")] int Total,
    int Delivered,
    int Pending,
    [property: Description("Given up after the last retry, or dropped when the subscription was disabled.")] int Failed,
    DateTimeOffset CreatedAt);

/// <summary>
/// Replay: re-sends a subscription's events from the tenant's event log, each once, in log order, under its original
/// webhook-id (so a CRM that had it de-duplicates), filtered by the subscription's types. The way a subscription that was
/// disabled (which queues nothing) catches up after enable.
/// </summary>
public static class SubscriptionReplay
{
    public static IEndpointRouteBuilder MapSubscriptionReplay(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapPost("/v1/subscriptions/{id:guid}/replay", Start).WithName("ReplaySubscription")
            .Documented("Re-send the subscription's events logged since a moment, each once, in order, with its original webhook-id.",
                "only failed (the default) leaves out events the subscription already received or has pending. Answers 202 with a Location to "
                + "poll for progress. 409 while another replay of it runs or when it is disabled (enable it first); 422 when since is past the "
                + "event log's retention.")
            .Accepts<SubscriptionReplayInput>("application/json")
            .Answers(StatusCodes.Status202Accepted, "Queued; the body and Location give its progress.")
            .Answers(StatusCodes.Status400BadRequest, "ValidationProblemDetails: since or only is missing or wrong.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .Answers(StatusCodes.Status409Conflict, "ProblemDetails: a replay of this subscription is running, or the subscription is disabled.")
            .Answers(StatusCodes.Status422UnprocessableEntity, "ProblemDetails: since is older than the event log keeps.");
        scoped.MapGet("/v1/subscriptions/{id:guid}/replays/{replayId:guid}", Get).WithName("GetSubscriptionReplay")
            .Documented("A replay's progress: how many of its events were delivered, are pending, or failed.")
            .Answers(StatusCodes.Status200OK, "The replay.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowDuplicateProperties = false };

    internal static async Task<Results<Accepted<SubscriptionReplayView>, ProblemHttpResult, ValidationProblem>> Start(Guid id, HttpContext http,
        Database database, WebhookSignal signal, IOptions<EventLogOptions> log, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        SubscriptionReplayInput? input;
        try
        {
            input = http.Request.HasJsonContentType() ? await http.Request.ReadFromJsonAsync<SubscriptionReplayInput>(Json, ct) : null;
        }
        catch (JsonException e)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [JsonBody.Field(e)] = ["is not valid JSON of the expected type"] });
        }
        var errors = new Dictionary<string, string[]>();
        if (input?.Since is not { } since)
        {
            errors["since"] = ["is required: the moment to re-send from, as an ISO 8601 date-time with offset"];
            since = default;
        }
        else if (since > DateTimeOffset.UtcNow)
        {
            errors["since"] = ["must not be in the future"];
        }
        var only = input?.Only ?? "failed";
        if (only is not ("failed" or "all"))
        {
            errors["only"] = ["must be failed or all"];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        if (since < DateTimeOffset.UtcNow - log.Value.Retention)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Past retention",
                detail: $"since: the event log keeps {log.Value.Retention.TotalDays:0.##} days; replay from within them.");
        }
        var replayId = Guid.CreateVersion7();
        var outcome = await database.InTransaction<(int Code, string? Why, int Total)>(async session =>
        {
            var found = await session.QuerySingle<Target>("""
                select status, events, coalesce(queue, url) as url from webhook_subscriptions where tenant_id = @tenant and id = @id for update
                """, new { tenant, id }, ct);
            if (found is not var (status, events, url))
            {
                return (StatusCodes.Status404NotFound, null, 0);
            }
            if (status == SubscriptionLifecycle.Disabled)
            {
                return (StatusCodes.Status409Conflict, "The subscription is disabled: POST .../enable first, then replay.", 0);
            }
            if (await session.Scalar<bool>("""
                select exists (select 1 from subscription_replays r where r.subscription_id = @id
                    and exists (select 1 from webhook_deliveries d where d.replay_id = r.id and d.status = 'pending'))
                """, new { id }, ct))
            {
                return (StatusCodes.Status409Conflict, "A replay of this subscription is still running; poll it, then replay again.", 0);
            }
            // In log order, each a microsecond after the one before: the dispatcher sends a subscription's deliveries in that order.
            var replay = new
            {
                tenant, id, url, replay = replayId, since, onlyFailed = only == "failed",
                types = (events.Length == 0 ? WebhookTypes.Default : events).ToArray(),
            };
            var total = await session.Execute("""
                insert into webhook_deliveries (id, message_id, alert_id, customer_id, url, body, event_type, subscription_id, replay_id, next_attempt_at)
                select gen_random_uuid(), e.event_id,
                    case when e.type like 'alert.%' then ((e.body::jsonb) -> 'data' ->> 'alertId')::uuid end,
                    e.customer_id, @url, e.body, e.type, @id, @replay,
                    now() + (row_number() over (order by e.position)) * interval '1 microsecond'
                from event_log e
                where e.tenant_id = @tenant and e.position is not null and e.created_at >= @since and e.type = any(@types)
                    and (not @onlyFailed or not exists (
                        select 1 from webhook_deliveries d where d.subscription_id = @id and d.message_id = e.event_id and d.event_type = e.type
                            and d.status in ('delivered', 'pending')))
                order by e.position
                """, replay, ct);
            await session.Execute("""
                insert into subscription_replays (id, tenant_id, subscription_id, since, only_failed, total)
                values (@replay, @tenant, @id, @since, @onlyFailed, @total)
                """, new { replay = replayId, tenant, id, since, onlyFailed = only == "failed", total }, ct);
            return (StatusCodes.Status202Accepted, null, total);
        }, ct);
        if (outcome.Code == StatusCodes.Status404NotFound)
        {
            return SubscriptionEndpoints.NotFound(id);
        }
        if (outcome.Code == StatusCodes.Status409Conflict)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Not possible now", detail: outcome.Why);
        }
        signal.Notify();
        var location = $"/v1/subscriptions/{id}/replays/{replayId}";
        return TypedResults.Accepted(location, await Find(database, tenant, id, replayId, ct));
    }

    internal static async Task<Results<Ok<SubscriptionReplayView>, ProblemHttpResult>> Get(Guid id, Guid replayId, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        return await Find(database, tenant, id, replayId, ct) is { } view
            ? TypedResults.Ok(view)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No replay {replayId} of subscription {id} in this tenant.");
    }

    private static async Task<SubscriptionReplayView?> Find(Database database, string tenant, Guid id, Guid replayId, CancellationToken ct)
    {
        await using var connection = database.DataSource.CreateConnection();
        var row = await connection.QuerySingleOrDefaultAsync<ReplayRow>(new CommandDefinition("""
            select r.since, r.only_failed as onlyfailed, r.total, r.created_at as createdat,
                count(*) filter (where d.status = 'delivered') as delivered, count(*) filter (where d.status = 'pending') as pending,
                count(*) filter (where d.status in ('failed', 'disabled')) as failed
            from subscription_replays r left join webhook_deliveries d on d.replay_id = r.id
            where r.id = @replay and r.subscription_id = @id and r.tenant_id = @tenant
            group by r.id
            """, new { replay = replayId, id, tenant }, cancellationToken: ct));
        return row is null
            ? null
            : new SubscriptionReplayView(replayId, id, row.Since, row.OnlyFailed ? "failed" : "all", row.Pending > 0 ? "running" : "done", row.Total,
                (int)row.Delivered, (int)row.Pending, (int)row.Failed, row.CreatedAt);
    }

    /// <summary>Where a replay sends (the queue or URL), what the subscription takes, and whether it may.</summary>
    private sealed record Target(string Status, string[] Events, string Url);

    private sealed record ReplayRow(DateTimeOffset Since, bool OnlyFailed, int Total, DateTimeOffset CreatedAt, long Delivered, long Pending, long Failed);
}
