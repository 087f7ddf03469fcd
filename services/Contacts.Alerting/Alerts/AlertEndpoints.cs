using System.ComponentModel;
using System.Text.Json;
using Contacts.Alerting.Paging;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Npgsql;

namespace Contacts.Alerting.Alerts;

/// <summary>An alert as the API and the webhooks show it: enough for a CRM to act without calling back.</summary>
public sealed record AlertView(
    Guid Id,
    [property: Description("The customer the alert belongs to now (the survivor after merges).")] Guid CustomerId,
    [property: Description("Why: high_effort, or a driver rule's reason.")] string Reason,
    [property: Description("open and acknowledged are active (one per customer and reason).")] string Status,
    [property: Description("The escalation level its score reached (0 under the first level); each level is reached once.")] int Level,
    [property: Description("The customer's latest score while the alert is active.")] int Score,
    IReadOnlyList<EffortDriver> Drivers,
    [property: Description("The contact whose score raised the alert.")] Guid ContactEventId,
    [property: Description("The journey of the latest score.")] Guid? JourneyId,
    string? Topic,
    IReadOnlyList<string>? Channels,
    [property: Description("The version of the customer's effort state the score came from.")] long? ScoreVersion,
    DateTimeOffset RaisedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? AcknowledgedAt,
    DateTimeOffset? ClosedAt,
    string? Resolution,
    [property: Description("For a merged alert: the survivor's open alert that carries on.")] Guid? SupersededBy,
    AlertLinks Links);

/// <summary>Where to read more, relative to the gateway.</summary>
public sealed record AlertLinks(string Alert, string CustomerContext);

/// <summary>A page of alerts, newest first; Next is the cursor for the following page (null on the last).</summary>
public sealed record AlertPage(
    IReadOnlyList<AlertView> Items,
    [property: Description("Cursor for the next page (the after parameter); null on the last page.")] string? Next);

/// <summary>Reading alerts, for the API and for the webhook bodies (written in the transaction that changed the alert).</summary>
public static class AlertReads
{
    public const string Select = """
        select id, customer_id as customerid, reason, status, level, score, drivers::text as drivers, contact_event_id as contacteventid,
               journey_id as journeyid, topic, channels, score_version as scoreversion, raised_at as raisedat, updated_at as updatedat,
               acknowledged_at as acknowledgedat, closed_at as closedat, resolution, superseded_by as supersededby
        from alerts
        """;

    /// <summary>The alerts a query that starts with <see cref="Select"/> finds.</summary>
    public static async Task<List<AlertView>> Read(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, object args, CancellationToken ct) =>
        [.. (await connection.QueryAsync<AlertRow>(new CommandDefinition(sql, args, tx, cancellationToken: ct))).Select(r => r.View())];

    /// <summary>One alert in the session's transaction (it must exist: the caller just wrote it).</summary>
    public static async Task<AlertView> Find(Session session, string tenantId, Guid alertId, CancellationToken ct) =>
        (await Read(session.Connection, session.Transaction, $"{Select} where tenant_id = @tenant and id = @id", new { tenant = tenantId, id = alertId },
            ct)).Single();

    private sealed record AlertRow(Guid Id, Guid CustomerId, string Reason, string Status, int Level, int Score, string Drivers, Guid ContactEventId,
        Guid? JourneyId, string? Topic, string[]? Channels, long? ScoreVersion, DateTimeOffset RaisedAt, DateTimeOffset UpdatedAt,
        DateTimeOffset? AcknowledgedAt, DateTimeOffset? ClosedAt, string? Resolution, Guid? SupersededBy)
    {
        public AlertView View() => new(Id, CustomerId, Reason, Status, Level, Score,
            JsonSerializer.Deserialize<List<EffortDriver>>(Drivers, JsonSerializerOptions.Web) ?? [], ContactEventId, JourneyId, Topic, Channels,
            ScoreVersion, RaisedAt, UpdatedAt, AcknowledgedAt, ClosedAt, Resolution, SupersededBy,
            new AlertLinks($"/v1/alerts/{Id}", $"/v1/customers/{CustomerId}/context"));
    }
}

public static class AlertEndpoints
{
    public static readonly string[] Statuses = AlertStatus.All;

    public static IEndpointRouteBuilder MapAlerts(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        var group = scoped.MapGroup("/v1/alerts");
        group.MapGet("/", List).WithName("ListAlerts")
            .Documented("The tenant's alerts, newest first, a page at a time. With customerId, that person's alerts: the customer's own and those "
                + "of every customer merged into it; a merged customer's id finds the survivor's (alerts follow merges, one open alert per "
                + "person and reason).")
            .Query("customerId", JsonSchemaType.String, "Only this person's alerts: the survivor's of this customer, and those of every "
                + "customer merged into it.", format: "uuid")
            .Query("status", JsonSchemaType.String, "open and acknowledged are active; merged: closed because the customer was merged into one with "
                + "an active alert for the same reason.", allowed: Statuses)
            .Paged("Alerts", PageQuery.DefaultLimit, PageQuery.MaxLimit)
            .Answers(StatusCodes.Status200OK, "A page of alerts.");
        group.MapGet("/{id:guid}", GetById).WithName("GetAlert")
            .Documented("One alert by id.")
            .Answers(StatusCodes.Status200OK, "The alert.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/acknowledge", (Guid id, HttpContext http, Database database, WebhookSignal signal, IOptions<WebhookOptions> webhooks,
            CancellationToken ct) => Command(id, AlertDecision.Acknowledge, http, database, signal, webhooks, ct))
            .WithName("AcknowledgeAlert")
            .Documented("Acknowledge an open alert: it stays active (rescored, escalated, resolved by itself) and the CRM gets alert.acknowledged. "
                + "Again: 200, nothing changes; 409 for a resolved or merged alert.")
            .Answers(StatusCodes.Status200OK, "The alert after the change.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:guid}/resolve", (Guid id, HttpContext http, Database database, WebhookSignal signal, IOptions<WebhookOptions> webhooks,
            CancellationToken ct) => Command(id, AlertDecision.Resolve, http, database, signal, webhooks, ct))
            .WithName("ResolveAlert")
            .Documented("Resolve an open or acknowledged alert: the CRM gets alert.resolved (resolution manual) and the reason raises no new alert "
                + "for the customer within the cooldown. Again: 200, nothing changes; 409 for a merged alert.")
            .Answers(StatusCodes.Status200OK, "The alert after the change.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    /// <summary>
    /// The tenant's alerts, newest first: ?customerId= (following merges, so a merged customer's id finds the survivor's
    /// alerts, and the survivor's include those of the customers merged into it),
    /// ?status=open|acknowledged|resolved|merged, ?limit=1-200 (50), ?after=cursor.
    /// </summary>
    internal static async Task<Results<Ok<AlertPage>, ProblemHttpResult, ValidationProblem>> List(
        [AsParameters] PageRequest page, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var query = http.Request.Query;
        var errors = new Dictionary<string, string[]>();
        Guid? customerId = null;
        if (query.ContainsKey("customerId"))
        {
            if (Guid.TryParse(query["customerId"].ToString(), out var parsed))
            {
                customerId = parsed;
            }
            else
            {
                errors["customerId"] = ["must be a customer id (a UUID)"];
            }
        }
        var status = query.ContainsKey("status") ? query["status"].ToString() : null;
        if (status is not null && !Statuses.Contains(status))
        {
            errors["status"] = [$"must be one of {string.Join(", ", Statuses)}"];
        }
        var (limit, after) = PageQuery.Read(page, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        if (customerId is { } requested)
        {
            customerId = await LastSurvivor(connection, tenant, requested, ct);
        }
        // Alert ids are time-ordered (UUIDv7), so the id is both the order and the cursor. A customer's alerts are the
        // person's: their own and those of every customer merged into them, down each chain of merges.
        var items = await AlertReads.Read(connection, null, $"""
            with recursive parts as (
                select @customer::uuid as customer_id, 0 as depth
                union all
                select s.customer_id, parts.depth + 1 from customer_alert_state s
                join parts on s.tenant_id = @tenant and s.merged_into = parts.customer_id where parts.depth < 100)
            {AlertReads.Select}
            where tenant_id = @tenant
              and (@customer::uuid is null or customer_id in (select customer_id from parts))
              and (@status::text is null or status = @status)
              and (@after::uuid is null or id < @after)
            order by id desc
            limit @limit
            """, new { tenant, customer = customerId, status, after, limit = limit + 1 }, ct);
        var next = items.Count > limit ? items[limit - 1].Id.ToString() : null;
        return TypedResults.Ok(new AlertPage([.. items.Take(limit)], next));
    }

    internal static async Task<Results<Ok<AlertView>, ProblemHttpResult>> GetById(
        Guid id, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = database.DataSource.CreateConnection();
        var found = await AlertReads.Read(connection, null, $"{AlertReads.Select} where tenant_id = @tenant and id = @id", new { tenant, id }, ct);
        return found.Count == 0
            ? NotFound(id)
            : TypedResults.Ok(found[0]);
    }

    /// <summary>
    /// Acknowledge or resolve: under the customer's lock (as scores and merges take it), decided on the alert as it is now;
    /// again is 200 with nothing changed; 409 when the alert's status does not allow it.
    /// </summary>
    internal static async Task<Results<Ok<AlertView>, ProblemHttpResult>> Command(Guid id, Func<AlertSnapshot, (IReadOnlyList<AlertDecisionEvent> Events, string? Conflict)> decide,
        HttpContext http, Database database, WebhookSignal signal, IOptions<WebhookOptions> webhooks, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var (result, queued) = await database.InTransaction<(Results<Ok<AlertView>, ProblemHttpResult>, bool)>(async session =>
        {
            for (var attempt = 0; attempt < 100; attempt++)
            {
                if (await Snapshot(session, tenant, id, ct) is not { } before)
                {
                    return (NotFound(id), false);
                }
                await AlertStore.Lock(session, tenant, [before.CustomerId], ct);
                var alert = (await Snapshot(session, tenant, id, ct))!;
                if (alert.CustomerId != before.CustomerId)
                {
                    continue; // moved by a merge or split while we waited for the lock: lock its customer now
                }
                var (events, conflict) = decide(alert);
                if (conflict is not null)
                {
                    return (TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: conflict), false);
                }
                var queued = await AlertStore.Apply(session, tenant, events, webhooks.Value, ct);
                return (TypedResults.Ok(await AlertReads.Find(session, tenant, id, ct)), queued);
            }
            throw new InvalidOperationException($"alert {id} kept moving between customers");
        }, ct);
        if (queued)
        {
            signal.Notify();
        }
        return result;
    }

    private static Task<AlertSnapshot?> Snapshot(Session session, string tenant, Guid id, CancellationToken ct) =>
        session.QuerySingle<AlertSnapshot>(
            "select id as alertid, customer_id as customerid, reason, status from alerts where tenant_id = @tenant and id = @id", new { tenant, id }, ct);

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No alert {id} in this tenant.");

    private static Task<Guid> LastSurvivor(NpgsqlConnection connection, string tenant, Guid customerId, CancellationToken ct) =>
        connection.ExecuteScalarAsync<Guid>(new CommandDefinition("""
            with recursive chain as (
                select customer_id, merged_into, 0 as depth from customer_alert_state where tenant_id = @tenant and customer_id = @id
                union all
                select s.customer_id, s.merged_into, chain.depth + 1 from customer_alert_state s
                join chain on s.tenant_id = @tenant and s.customer_id = chain.merged_into where chain.depth < 100)
            select coalesce((select coalesce(merged_into, customer_id) from chain order by depth desc limit 1), @id)
            """, new { tenant, id = customerId }, cancellationToken: ct));
}
