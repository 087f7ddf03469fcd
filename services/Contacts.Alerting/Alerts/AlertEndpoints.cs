using System.Text.Json;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Persistence;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Contacts.Alerting.Alerts;

/// <summary>An alert as the API shows it.</summary>
public sealed record AlertView(
    Guid Id,
    Guid CustomerId,
    string Reason,
    string Status,
    int Score,
    IReadOnlyList<EffortDriver> Drivers,
    Guid ContactEventId,
    long? ScoreVersion,
    DateTimeOffset RaisedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ClosedAt,
    Guid? SupersededBy);

/// <summary>A page of alerts, newest first; Next is the cursor for the following page (null on the last).</summary>
public sealed record AlertPage(IReadOnlyList<AlertView> Items, string? Next);

public static class AlertEndpoints
{
    public static readonly string[] Statuses = ["open", "merged"];
    private const int DefaultLimit = 50;
    private const int MaxLimit = 200;

    public static IEndpointRouteBuilder MapAlerts(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/alerts");
        group.MapGet("/", List).WithName("ListAlerts");
        group.MapGet("/{id:guid}", GetById).WithName("GetAlert");
        return app;
    }

    /// <summary>
    /// The tenant's alerts, newest first: ?customerId= (following merges, so a merged customer's id finds the survivor's
    /// alerts), ?status=open|merged, ?limit=1-200 (50), ?after=cursor.
    /// </summary>
    internal static async Task<Results<Ok<AlertPage>, ProblemHttpResult, ValidationProblem>> List(
        HttpContext http, Database database, IConfiguration configuration, CancellationToken ct)
    {
        if (Tenant.Of(http, configuration["Internal:Key"]) is not { } tenant)
        {
            return NoTenant();
        }
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
        var limit = DefaultLimit;
        if (query.ContainsKey("limit") && (!int.TryParse(query["limit"].ToString(), out limit) || limit is < 1 or > MaxLimit))
        {
            errors["limit"] = [$"must be a whole number from 1 to {MaxLimit}"];
        }
        Guid? after = null;
        if (query.ContainsKey("after"))
        {
            if (Guid.TryParse(query["after"].ToString(), out var cursor))
            {
                after = cursor;
            }
            else
            {
                errors["after"] = ["must be the 'next' cursor of a previous page"];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        if (customerId is { } requested)
        {
            customerId = await LastSurvivor(connection, tenant, requested, ct);
        }
        // Alert ids are time-ordered (UUIDv7), so the id is both the order and the cursor.
        await using var cmd = new NpgsqlCommand($"""
            {Select}
            where tenant_id = @tenant
              and (@customer::uuid is null or customer_id = @customer)
              and (@status::text is null or status = @status)
              and (@after::uuid is null or id < @after)
            order by id desc
            limit @limit
            """, connection);
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.Add(new NpgsqlParameter("customer", NpgsqlTypes.NpgsqlDbType.Uuid) { Value = (object?)customerId ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("status", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)status ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("after", NpgsqlTypes.NpgsqlDbType.Uuid) { Value = (object?)after ?? DBNull.Value });
        cmd.Parameters.AddWithValue("limit", limit + 1);
        var items = await Read(cmd, ct);
        var next = items.Count > limit ? items[limit - 1].Id.ToString() : null;
        return TypedResults.Ok(new AlertPage([.. items.Take(limit)], next));
    }

    internal static async Task<Results<Ok<AlertView>, ProblemHttpResult>> GetById(
        Guid id, HttpContext http, Database database, IConfiguration configuration, CancellationToken ct)
    {
        if (Tenant.Of(http, configuration["Internal:Key"]) is not { } tenant)
        {
            return NoTenant();
        }
        await using var cmd = database.DataSource.CreateCommand($"{Select} where tenant_id = @tenant and id = @id");
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("id", id);
        var found = await Read(cmd, ct);
        return found.Count == 0
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No alert {id} in this tenant.")
            : TypedResults.Ok(found[0]);
    }

    private const string Select = """
        select id, customer_id, reason, status, score, drivers::text, contact_event_id, score_version, raised_at, updated_at, closed_at, superseded_by
        from alerts
        """;

    private static async Task<List<AlertView>> Read(NpgsqlCommand cmd, CancellationToken ct)
    {
        var result = new List<AlertView>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(new AlertView(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                JsonSerializer.Deserialize<List<EffortDriver>>(reader.GetString(5), JsonSerializerOptions.Web) ?? [],
                reader.GetGuid(6), reader.IsDBNull(7) ? null : reader.GetInt64(7), reader.GetFieldValue<DateTimeOffset>(8),
                reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                reader.IsDBNull(11) ? null : reader.GetGuid(11)));
        }
        return result;
    }

    private static async Task<Guid> LastSurvivor(NpgsqlConnection connection, string tenant, Guid customerId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            with recursive chain as (
                select customer_id, merged_into, 0 as depth from customer_alert_state where tenant_id = @tenant and customer_id = @id
                union all
                select s.customer_id, s.merged_into, chain.depth + 1 from customer_alert_state s
                join chain on s.tenant_id = @tenant and s.customer_id = chain.merged_into where chain.depth < 100)
            select coalesce((select coalesce(merged_into, customer_id) from chain order by depth desc limit 1), @id)
            """, connection);
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("id", customerId);
        return (Guid)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private static ProblemHttpResult NoTenant() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "No tenant",
            detail: "Requests must come through the gateway with a tenant API key.");
}
