using Contacts.ServiceDefaults.Identifiers;
using Contacts.ServiceDefaults.Persistence;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Contacts.Identity.Customers;

/// <summary>A customer's cross-channel context: who they are and everything they have contacted us about, in order.</summary>
public sealed record CustomerView(
    Guid Id,
    DateTimeOffset CreatedAt,
    IReadOnlyList<Guid> MergedFrom,
    IReadOnlyList<IdentifierView> Identifiers,
    IReadOnlyList<string> Channels,
    IReadOnlyList<TimelineEntry> Timeline);

public sealed record IdentifierView(string Type, string Value);

public sealed record TimelineEntry(
    Guid ContactEventId, DateTimeOffset OccurredAt, string Channel, string Direction, string Kind, string Source, string ContactId, string? Topic);

public static class CustomerEndpoints
{
    public static IEndpointRouteBuilder MapCustomers(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/customers");
        group.MapGet("/{id:guid}", GetById).WithName("GetCustomer");
        group.MapGet("/", Lookup).WithName("FindCustomer");
        return app;
    }

    internal static async Task<Results<Ok<CustomerView>, ProblemHttpResult>> GetById(
        Guid id, HttpContext http, Database database, IConfiguration configuration, CancellationToken ct)
    {
        if (Tenant.Of(http, configuration["Internal:Key"]) is not { } tenant)
        {
            return NoTenant();
        }
        var view = await Load(database.DataSource, tenant, id, ct);
        return view is null ? NotFound($"No customer {id} in this tenant.") : TypedResults.Ok(view);
    }

    /// <summary>Finds the customer an identifier belongs to: ?phone=, ?email=, ?crmId=, ?accountNumber=, ?handle= or ?deviceId=.</summary>
    internal static async Task<Results<Ok<CustomerView>, ProblemHttpResult, ValidationProblem>> Lookup(
        HttpContext http, Database database, IConfiguration configuration, CancellationToken ct)
    {
        if (Tenant.Of(http, configuration["Internal:Key"]) is not { } tenant)
        {
            return NoTenant();
        }
        (string Type, string Query)[] keys =
        [
            (IdentifierTypes.Phone, "phone"), (IdentifierTypes.Email, "email"), (IdentifierTypes.CrmId, "crmId"),
            (IdentifierTypes.AccountNumber, "accountNumber"), (IdentifierTypes.Handle, "handle"), (IdentifierTypes.DeviceId, "deviceId"),
        ];
        var given = keys.Where(k => http.Request.Query.ContainsKey(k.Query)).ToList();
        if (given.Count != 1)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["query"] = ["give exactly one of phone, email, crmId, accountNumber, handle, deviceId"],
            });
        }
        var (type, query) = given[0];
        var (value, error) = IdentifierNormalizer.Normalize(type, http.Request.Query[query].ToString());
        if (error is not null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [query] = [error] });
        }

        await using var cmd = database.DataSource.CreateCommand(
            "select customer_id from customer_identifiers where tenant_id = @tenant and type = @type and value = @value");
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("type", type);
        cmd.Parameters.AddWithValue("value", value!);
        var customerId = await cmd.ExecuteScalarAsync(ct) as Guid?;
        var view = customerId is { } id ? await Load(database.DataSource, tenant, id, ct) : null;
        return view is null ? NotFound($"No customer with that {query} in this tenant.") : TypedResults.Ok(view);
    }

    /// <summary>Loads a customer, following merges to the survivor; null when it does not exist in this tenant.</summary>
    private static async Task<CustomerView?> Load(NpgsqlDataSource db, string tenant, Guid requestedId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        // One snapshot for the four reads, so a merge committing in between cannot tear the view.
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        Guid id;
        DateTimeOffset createdAt;
        await using (var cmd = new NpgsqlCommand("""
            with recursive chain as (
                select id, merged_into, created_at, 0 as depth from customers where id = @id and tenant_id = @tenant
                union all
                select c.id, c.merged_into, c.created_at, chain.depth + 1 from customers c join chain on c.id = chain.merged_into where chain.depth < 100)
            select id, created_at from chain where merged_into is null
            """, connection, tx))
        {
            cmd.Parameters.AddWithValue("id", requestedId);
            cmd.Parameters.AddWithValue("tenant", tenant);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }
            (id, createdAt) = (reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1));
        }

        var mergedFrom = await List(connection, tx, "select id from customers where merged_into = @id order by created_at", id,
            r => r.GetGuid(0), ct);
        var identifiers = await List(connection, tx, "select type, value from customer_identifiers where customer_id = @id order by type, value", id,
            r => new IdentifierView(r.GetString(0), r.GetString(1)), ct);
        var timeline = await List(connection, tx, """
            select contact_event_id, occurred_at, channel, direction, kind, source, contact_id, topic
            from timeline where customer_id = @id order by occurred_at, contact_event_id
            """, id,
            r => new TimelineEntry(r.GetGuid(0), r.GetFieldValue<DateTimeOffset>(1), r.GetString(2), r.GetString(3), r.GetString(4),
                r.GetString(5), r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7)), ct);
        var channels = timeline.Select(t => t.Channel).Distinct().ToList();
        return new CustomerView(id, createdAt, mergedFrom, identifiers, channels, timeline);
    }

    private static async Task<List<T>> List<T>(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, Guid id,
        Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, connection, tx);
        cmd.Parameters.AddWithValue("id", id);
        var result = new List<T>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(read(reader));
        }
        return result;
    }

    private static ProblemHttpResult NoTenant() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "No tenant",
            detail: "Requests must come through the gateway with a tenant API key.");

    private static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);
}
