using Contacts.Identity.Settings;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.Tenancy;
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
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = """
            with recursive family as (
                select id, 0 as depth from customers where id = @id and tenant_id = @tenant
                union all
                select c.id, family.depth + 1 from customers c join family on c.merged_into = family.id where family.depth < 100)
            select h.seq, h.customer_id, h.kind, h.at, h.contact_event_id, h.identifier_type, h.identifier_value, h.rule, h.related_customer_ids,
                   exists (select 1 from family) as known
            from (select 1) one
            left join customer_history h on h.customer_id in (select id from family) and h.tenant_id = @tenant and h.seq > @after
            order by h.seq
            limit @take
            """;
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("after", after ?? 0L);
        cmd.Parameters.AddWithValue("take", take + 1);
        var entries = new List<HistoryEntry>();
        var known = false;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                known = reader.GetBoolean(9);
                if (reader.IsDBNull(0))
                {
                    continue;
                }
                entries.Add(new HistoryEntry(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
                    reader.IsDBNull(4) ? null : reader.GetGuid(4),
                    reader.IsDBNull(5) ? null : new IdentifierView(reader.GetString(5), reader.GetString(6)),
                    reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetFieldValue<Guid[]>(8)));
            }
        }
        if (!known)
        {
            return Problems.NotFound($"No customer {id} in this tenant.");
        }
        var next = entries.Count > take ? entries[take - 1].Seq : (long?)null;
        return TypedResults.Ok(new HistoryPage(id, entries.Take(take).ToList(), next));
    }
}
