using System.ComponentModel;
using Contacts.Identifiers;
using Contacts.Identity.Settings;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.OpenApi;
using Npgsql;

namespace Contacts.Identity.Customers;

/// <summary>A customer's cross-channel context: who they are and everything they have contacted us about, in order.</summary>
public sealed record CustomerView(
    Guid Id,
    DateTimeOffset CreatedAt,
    IReadOnlyList<Guid> MergedFrom,
    IReadOnlyList<IdentifierView> Identifiers,
    IReadOnlyList<string> Channels,
    IReadOnlyList<TimelineEntry> Timeline,
    [property: Description("Contacts whose only identifiers are shared: held, credited to no candidate, not scored.")] IReadOnlyList<AmbiguousContact> AmbiguousContacts,
    [property: Description("Customers split from this one: never merged with it again.")] IReadOnlyList<Guid> DistinctFrom);

/// <summary>An identifier of the customer; a shared one is held with other customers (SharedWith) and never merges them.</summary>
public sealed record IdentifierView(string Type, string Value, bool Shared = false, IReadOnlyList<Guid>? SharedWith = null);

public sealed record TimelineEntry(
    Guid ContactEventId, DateTimeOffset OccurredAt, string Channel, string Direction, string Kind, string Source, string ContactId, string? Topic);

/// <summary>A contact whose only identifiers are shared: held, not credited to any of its candidate customers.</summary>
public sealed record AmbiguousContact(
    Guid ContactEventId, DateTimeOffset OccurredAt, string Channel, string Kind, string Source, string ContactId, IReadOnlyList<Guid> CandidateCustomerIds, string Rule);

/// <summary>One of the tenant's current customers, as the listing pages them.</summary>
public sealed record CustomerSummary(Guid Id, DateTimeOffset CreatedAt);

/// <summary>A page of the tenant's current customers (neither merged into another nor erased), by id.</summary>
public sealed record CustomerPage(
    IReadOnlyList<CustomerSummary> Customers,
    [property: Description("Pass as after for the next page; null on the last page.")] Guid? Next);

public static class CustomerEndpoints
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapCustomers(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        var group = scoped.MapGroup("/v1/customers");
        group.MapGet("/{id:guid}", GetById).WithName("GetCustomer")
            .Documented("A customer by id, following merges to the survivor.")
            .Produces<CustomerView>()
            .Answers(StatusCodes.Status200OK, "The customer.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        var lookup = group.MapGet("/", Lookup).WithName("FindCustomer")
            .Documented("Find the customer an identifier belongs to (give exactly one identifier parameter, normalised as on the way in); "
                + "without one, page through the tenant's current customers (after, limit), so a CRM can reconcile its records.")
            .Produces<CustomerView>()
            .AddOpenApiOperationTransformer(async (operation, context, ct) =>
            {
                // Two answers under 200: the customer for an identifier, or a page of customers without one.
                if (operation.Responses?["200"] is Microsoft.OpenApi.OpenApiResponse ok && ok.Content?["application/json"] is { } json && json.Schema is { } view)
                {
                    json.Schema = new Microsoft.OpenApi.OpenApiSchema { OneOf = [view, await context.GetOrCreateSchemaAsync(typeof(CustomerPage), null, ct)] };
                }
            })
            .Answers(StatusCodes.Status200OK, "With an identifier: the customer with identifiers, channels and timeline. Without one: a page of current customers (customers, each with id and createdAt, and next).")
            .Paged("Listing only: customers", DefaultLimit, MaxLimit, cursor: "Listing only: the next value of the previous page (a customer id).",
                cursorFormat: "uuid")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .Answers(StatusCodes.Status409Conflict, "The identifier is shared by several customers (candidateCustomerIds).");
        foreach (var type in IdentifierTypes.All)
        {
            lookup.Query(IdentifierTypes.PublicName(type), JsonSchemaType.String);
        }
        group.MapGet("/{id:guid}/history", CustomerHistory.Get).WithName("GetCustomerHistory")
            .Documented("Every decision about the customer and the customers merged into it, oldest first, each with its contact, identifier and rule.")
            .Produces<HistoryPage>()
            .Answers(StatusCodes.Status200OK, "A page of history.")
            .Paged("Entries", CustomerHistory.DefaultLimit, CustomerHistory.MaxLimit, cursor: "The next value of the previous page.",
                cursorType: JsonSchemaType.Integer, cursorFormat: "int64", cursorMinimum: 0)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/split", CustomerSplitting.Split).WithName("SplitCustomer")
            .Documented("Revert a merge: the merged customer returns with what it brought, later contacts follow their own identifiers, the pair is "
                + "kept distinct; CustomerSplit is published.")
            .Accepts<SplitRequest>("application/json")
            .Produces<SplitResult>()
            .Answers(StatusCodes.Status200OK, "Split.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapDelete("/{id:guid}", CustomerErasure.Erase).WithName("EraseCustomer")
            .Documented("Erase a customer everywhere (right to erasure): identity at once, the other services on CustomerErased, exactly once, "
                + "with contacts held as ambiguous that named them, their outbox rows and their dead letters; an identifier shared with another "
                + "customer stays that customer's. Afterwards the id answers 404 and its identifiers find nothing.")
            .Produces<ErasureResult>(StatusCodes.Status202Accepted)
            .Answers(StatusCodes.Status202Accepted, "Erased in identity; CustomerErased published.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .Answers(StatusCodes.Status503ServiceUnavailable, "ProblemDetails: the database or the broker was away (or an error queue was being read); nothing was erased, retry.");
        return app;
    }

    internal static async Task<Results<Ok<CustomerView>, ProblemHttpResult>> GetById(Guid id, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var view = await Load(database.DataSource, tenant, id, ct);
        return view is null ? Problems.NotFound($"No customer {id} in this tenant.") : TypedResults.Ok(view);
    }

    /// <summary>Finds the customer an identifier belongs to: ?phone=, ?email=, ?crmId=, ?accountNumber=, ?handle= or ?deviceId=.</summary>
    internal static async Task<Results<Ok<CustomerView>, Ok<CustomerPage>, ProblemHttpResult, ValidationProblem>> Lookup(
        [AsParameters] PageRequest page, HttpContext http, Database database, SettingsStore settings, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var given = IdentifierTypes.All.Select(t => (Type: t, Query: IdentifierTypes.PublicName(t)))
            .Where(k => http.Request.Query.ContainsKey(k.Query)).ToList();
        var paging = new[] { ("limit", page.Limit), ("after", page.After) }.Where(p => p.Item2 is not null).Select(p => p.Item1).ToList();
        if (given.Count > 0 && paging.Count > 0)
        {
            return TypedResults.ValidationProblem(paging.ToDictionary(p => p, _ => new[] { "pages the listing of customers: give it without an identifier" }));
        }
        if (given.Count == 0)
        {
            var (listed, errors) = await List(page, database, tenant, ct);
            return listed is null ? TypedResults.ValidationProblem(errors!) : TypedResults.Ok(listed);
        }
        if (given.Count != 1)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["query"] = ["give exactly one of phone, email, crmId, accountNumber, handle, deviceId"],
            });
        }
        var (type, query) = given[0];
        var raw = http.Request.Query[query].ToString();
        var (value, error) = type == IdentifierTypes.Phone
            ? IdentifierNormalizer.PhoneForTenant(raw, (await settings.Rules(tenant, ct)).DefaultRegion)
            : IdentifierNormalizer.Normalize(type, raw);
        if (error is not null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [query] = [error] });
        }

        await using var connection = database.DataSource.CreateConnection();
        var found = await connection.QuerySingleOrDefaultAsync<IdentifierOwner>(new CommandDefinition("""
            select i.customer_id as customerid, i.shared, array(select s.customer_id from identifier_sharers s
                where s.tenant_id = i.tenant_id and s.type = i.type and s.value = i.value order by s.customer_id) as sharers
            from customer_identifiers i where i.tenant_id = @tenant and i.type = @type and i.value = @value
            """, new { tenant, type, value }, cancellationToken: ct));
        if (found is { Shared: true })
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Shared identifier",
                detail: $"That {query} is shared by several customers and identifies none of them alone.",
                extensions: new Dictionary<string, object?> { ["candidateCustomerIds"] = found.Sharers });
        }
        var customerId = found?.CustomerId;
        var view = customerId is { } id ? await Load(database.DataSource, tenant, id, ct) : null;
        return view is null ? Problems.NotFound($"No customer with that {query} in this tenant.") : TypedResults.Ok(view);
    }

    /// <summary>
    /// The tenant's current customers by id: a pass through the pages lists each customer that stays current exactly once.
    /// Ids are time-ordered, so a customer made during a pass mostly comes on a later page; one merged or erased during it
    /// drops out. The change events are how a CRM follows changes; this is how it checks it has them all.
    /// </summary>
    private static async Task<(CustomerPage? Page, Dictionary<string, string[]>? Errors)> List(PageRequest paging, Database database, string tenant,
        CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var after = paging.IdCursor(errors, "must be the next value of the previous page (a customer id)") ?? Guid.Empty;
        var limit = paging.Size(DefaultLimit, MaxLimit, errors);
        if (errors.Count > 0)
        {
            return (null, errors);
        }
        await using var connection = database.DataSource.CreateConnection();
        var customers = (await connection.QueryAsync<CustomerSummary>(new CommandDefinition("""
            select id, created_at as createdat from customers
            where tenant_id = @tenant and id > @after and merged_into is null and erased_at is null
            order by id limit @take
            """, new { tenant, after, take = limit + 1 }, cancellationToken: ct))).AsList();
        var more = customers.Count > limit;
        var page = customers.Take(limit).ToList();
        return (new CustomerPage(page, more ? page[^1].Id : null), null);
    }

    /// <summary>The live customer an id now stands for, following merges; null when unknown in this tenant or erased.</summary>
    internal static async Task<(Guid Id, DateTimeOffset CreatedAt)?> Resolve(NpgsqlConnection connection, NpgsqlTransaction? tx, string tenant, Guid requestedId, CancellationToken ct)
    {
        var live = await connection.QuerySingleOrDefaultAsync<CustomerSummary>(new CommandDefinition("""
            with recursive chain as (
                select id, merged_into, created_at, erased_at, 0 as depth from customers where id = @id and tenant_id = @tenant
                union all
                select c.id, c.merged_into, c.created_at, c.erased_at, chain.depth + 1 from customers c join chain on c.id = chain.merged_into where chain.depth < 100)
            select id, created_at as createdat from chain where merged_into is null and erased_at is null
            """, new { id = requestedId, tenant }, tx, cancellationToken: ct));
        return live is null ? null : (live.Id, live.CreatedAt);
    }

    /// <summary>Loads a customer, following merges to the survivor; null when it does not exist in this tenant.</summary>
    internal static async Task<CustomerView?> Load(NpgsqlDataSource db, string tenant, Guid requestedId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        // One snapshot for all reads, so a merge committing in between cannot tear the view.
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        if (await Resolve(connection, tx, tenant, requestedId, ct) is not var (id, createdAt))
        {
            return null;
        }
        var mergedFrom = await List<Guid>(connection, tx, "select id from customers where merged_into = @id order by created_at", id, ct);
        var identifiers = (await List<IdentifierRow>(connection, tx, """
            select type, value, false as shared, '{}'::uuid[] as sharers from customer_identifiers where customer_id = @id
            union all
            select s.type, s.value, true, array(select o.customer_id from identifier_sharers o
                where o.tenant_id = s.tenant_id and o.type = s.type and o.value = s.value and o.customer_id <> @id order by o.customer_id)
            from identifier_sharers s where s.customer_id = @id
            order by 1, 2
            """, id, ct)).Select(r => new IdentifierView(r.Type, r.Value, r.Shared, r.Shared ? r.Sharers : null)).ToList();
        var timeline = await List<TimelineEntry>(connection, tx, """
            select contact_event_id as contacteventid, occurred_at as occurredat, channel, direction, kind, source, contact_id as contactid, topic
            from timeline where customer_id = @id order by occurred_at, contact_event_id
            """, id, ct);
        var held = (await List<HeldRow>(connection, tx, """
            select contact_event_id as contacteventid, occurred_at as occurredat, channel, kind, source, contact_id as contactid,
                candidate_ids as candidatecustomerids, rule
            from held_contacts where candidate_ids @> array[@id] order by occurred_at, contact_event_id
            """, id, ct)).Select(r => r.Contact()).ToList();
        var distinct = await List<Guid>(connection, tx, "select other_id from distinct_customers where customer_id = @id order by other_id", id, ct);
        var channels = timeline.Select(t => t.Channel).Distinct().ToList();
        return new CustomerView(id, createdAt, mergedFrom, identifiers, channels, timeline, held, distinct);
    }

    /// <summary>The rows of one of a customer's reads (the id is @id), as T.</summary>
    internal static async Task<List<T>> List<T>(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, Guid id, CancellationToken ct) =>
        (await connection.QueryAsync<T>(new CommandDefinition(sql, new { id }, tx, cancellationToken: ct))).AsList();

    private sealed record IdentifierOwner(Guid CustomerId, bool Shared, Guid[] Sharers);

    private sealed record IdentifierRow(string Type, string Value, bool Shared, Guid[] Sharers);

    private sealed record HeldRow(Guid ContactEventId, DateTimeOffset OccurredAt, string Channel, string Kind, string Source, string ContactId,
        Guid[] CandidateCustomerIds, string Rule)
    {
        public AmbiguousContact Contact() => new(ContactEventId, OccurredAt, Channel, Kind, Source, ContactId, CandidateCustomerIds, Rule);
    }
}
