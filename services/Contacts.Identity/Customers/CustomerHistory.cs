using Contacts.Identity.Settings;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Contacts.Identity.Customers;

/// <summary>One decision about a customer: what happened, caused by which contact and identifier, under which rule.</summary>
public sealed record HistoryEntry(
    long Seq, Guid CustomerId, string Kind, DateTimeOffset At, Guid? ContactEventId, IdentifierView? Identifier, string? Rule,
    IReadOnlyList<Guid> RelatedCustomerIds);

/// <summary>A page of history; pass Next as ?after= for the following page (null at the end).</summary>
public sealed record HistoryPage(Guid CustomerId, IReadOnlyList<HistoryEntry> Entries, long? Next);

/// <summary>
/// GET /v1/customers/{id}/history: every decision about the customer and about the customers merged into it, oldest
/// first (created, identifier_linked, attached, merged, merged_into, identifier_shared, identifier_kept, held_ambiguous,
/// split, restored, reattributed, erased). An erased customer keeps only its "erased" entry, without details.
/// </summary>
public static class CustomerHistory
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    internal static async Task<Results<Ok<HistoryPage>, ProblemHttpResult, ValidationProblem>> Get(Guid id, [AsParameters] PageRequest page,
        HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var errors = new Dictionary<string, string[]>();
        var after = page.PositionCursor(errors, "must be a seq from an earlier page (0 or more)");
        var take = page.Size(DefaultLimit, MaxLimit, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<HistoryRow>(new CommandDefinition("""
            with recursive family as (
                select id, 0 as depth from customers where id = @id and tenant_id = @tenant
                union all
                select c.id, family.depth + 1 from customers c join family on c.merged_into = family.id where family.depth < 100)
            select h.seq, h.customer_id as customerid, h.kind, h.at, h.contact_event_id as contacteventid, h.identifier_type as identifiertype,
                   h.identifier_value as identifiervalue, h.rule, h.related_customer_ids as relatedcustomerids, exists (select 1 from family) as known
            from (select 1) one
            left join customer_history h on h.customer_id in (select id from family) and h.tenant_id = @tenant and h.seq > @after
            order by h.seq
            limit @take
            """, new { id, tenant, after = after ?? 0L, take = take + 1 }, cancellationToken: ct))).AsList();
        var known = rows.Count > 0 && rows[0].Known;
        var entries = rows.Where(r => r.Seq is not null).Select(r => r.Entry()).ToList();
        if (!known)
        {
            return Problems.NotFound($"No customer {id} in this tenant.");
        }
        var next = entries.Count > take ? entries[take - 1].Seq : (long?)null;
        return TypedResults.Ok(new HistoryPage(id, entries.Take(take).ToList(), next));
    }

    /// <summary>A history row, or the one row of nulls that says the customer is known but has nothing after the cursor.</summary>
    private sealed record HistoryRow(long? Seq, Guid? CustomerId, string? Kind, DateTimeOffset? At, Guid? ContactEventId, string? IdentifierType,
        string? IdentifierValue, string? Rule, Guid[]? RelatedCustomerIds, bool Known)
    {
        public HistoryEntry Entry() => new(Seq!.Value, CustomerId!.Value, Kind!, At!.Value, ContactEventId,
            IdentifierType is null ? null : new IdentifierView(IdentifierType, IdentifierValue!), Rule, RelatedCustomerIds!);
    }
}
