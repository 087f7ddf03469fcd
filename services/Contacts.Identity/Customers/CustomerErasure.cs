using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.ServiceDefaults.Persistence;
using Contacts.ServiceDefaults.Tenancy;
using static Contacts.Identity.Customers.CustomerSplitting;

namespace Contacts.Identity.Customers;

public sealed record ErasureResult(Guid CustomerId, IReadOnlyList<Guid> FormerCustomerIds, int ContactEvents);

/// <summary>
/// DELETE /v1/customers/{id}: the right to erasure. Identity deletes the customer's identifiers, timeline, contact
/// identifiers, event streams and history details (the customer rows stay as bare ids marked erased, so an old id
/// answers 404 and never comes back), and publishes CustomerErased so every other service forgets its share, exactly once.
/// </summary>
public static class CustomerErasure
{
    internal static async Task<IResult> Erase(Guid id, HttpContext http, Database database, IConfiguration configuration, CancellationToken ct)
    {
        if (Tenant.Of(http, configuration["Internal:Key"]) is not { } tenant)
        {
            return Problems.NoTenant();
        }
        var result = await database.InTransaction(session => EraseIn(session, tenant, id, ct), ct);
        return result.Problem ?? TypedResults.Accepted((string?)null, result.Erased);
    }

    internal static async Task<(ErasureResult? Erased, IResult? Problem)> EraseIn(Session session, string tenant, Guid id, CancellationToken ct)
    {
        var rows = await CustomerRows(session, tenant, [id], ct);
        if (!rows.TryGetValue(id, out var customer) || customer.ErasedAt is not null)
        {
            return (null, Problems.NotFound($"No customer {id} in this tenant."));
        }
        if (customer.MergedInto is { } into)
        {
            return (null, TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Customer was merged",
                detail: $"Customer {id} was merged into {into}: erase {into} (the person), or split them first."));
        }

        // Serialise with stitching: a contact carrying one of these identifiers waits, then finds nothing and starts afresh.
        var keys = await Read(session, "select type, value from customer_identifiers where customer_id = @id",
            r => $"{tenant}\n{r.GetString(0)}\n{r.GetString(1)}", ct, ("id", id));
        await Execute(session, "select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(@keys) as t(k)", ct,
            ("keys", keys.Order(StringComparer.Ordinal).ToArray()));

        var family = (await Read(session, """
            with recursive family as (
                select id, 0 as depth from customers where id = @id
                union all
                select c.id, family.depth + 1 from customers c join family on c.merged_into = family.id where family.depth < 100)
            select id from family
            """, r => r.GetGuid(0), ct, ("id", id))).ToArray();
        var contacts = (await Read(session, "select contact_event_id from timeline where customer_id = @id order by attach_order",
            r => r.GetGuid(0), ct, ("id", id))).ToArray();

        await Execute(session, """
            delete from contact_identifiers where contact_event_id = any(@contacts);
            delete from timeline where customer_id = @id;
            delete from customer_identifiers where customer_id = @id;
            delete from identifier_sharers where customer_id = any(@family);
            update held_contacts set candidate_ids = array_remove(candidate_ids, @id) where candidate_ids @> array[@id];
            delete from held_contacts where tenant_id = @tenant and cardinality(candidate_ids) = 0;
            delete from distinct_customers where customer_id = any(@family) or other_id = any(@family);
            delete from customer_history where customer_id = any(@family);
            delete from events where stream_id = any(@family);
            delete from streams where id = any(@family);
            update customers set erased_at = now() where id = any(@family);
            insert into customer_history (tenant_id, customer_id, kind, rule) values (@tenant, @id, 'erased', 'erasure requested');
            """, ct, ("id", id), ("family", family), ("contacts", contacts), ("tenant", tenant));

        var former = family.Where(f => f != id).ToList();
        var erased = new CustomerErased(Guid.CreateVersion7(), tenant, id, former, contacts, DateTimeOffset.UtcNow);
        session.Publish(erased, erased.Id);
        return (new ErasureResult(id, former, contacts.Length), null);
    }
}
