using System.ComponentModel;
using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Messaging;
using Contacts.Messaging.Outbox;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using static Contacts.Identity.Customers.CustomerSplitting;

namespace Contacts.Identity.Customers;

public sealed record ErasureResult(
    Guid CustomerId,
    [property: Description("Customers once merged into this one, erased with it.")] IReadOnlyList<Guid> FormerCustomerIds,
    [property: Description("Their contact events, erased in every service.")] int ContactEvents,
    [property: Description("Contacts held as ambiguous with them among the candidates, erased too.")] int HeldContactEvents);

/// <summary>
/// DELETE /v1/customers/{id}: the right to erasure. Identity deletes the customer's identifiers, timeline, contact
/// identifiers, event streams and history details (the customer rows stay as bare ids marked erased, so an old id
/// answers 404 and never comes back), the contacts held as ambiguous with them among the candidates, its outbox rows
/// about them and their dead letters in identity's error queue, takes their id out of other customers' records (an
/// identifier they shared stays the others'), and publishes CustomerErased so every other service forgets its share,
/// exactly once.
/// </summary>
public static class CustomerErasure
{
    internal static async Task<Results<Accepted<ErasureResult>, ProblemHttpResult>> Erase(Guid id, HttpContext http, Database database, ErasureSweep sweep,
        CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var result = await database.InTransaction(session => EraseIn(session, sweep, tenant, id, ct), ct);
        return result.Problem is { } problem ? problem : TypedResults.Accepted((string?)null, result.Erased!);
    }

    internal static async Task<(ErasureResult? Erased, ProblemHttpResult? Problem)> EraseIn(Session session, ErasureSweep sweep, string tenant, Guid id,
        CancellationToken ct)
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

        var family = (await session.Query<Guid>("""
            with recursive family as (
                select id, 0 as depth from customers where id = @id
                union all
                select c.id, family.depth + 1 from customers c join family on c.merged_into = family.id where family.depth < 100)
            select id from family
            """, new { id }, ct)).ToArray();

        // Serialise with stitching: a contact carrying one of these identifiers waits, then finds nothing and starts afresh.
        var identifiers = await session.Query<(string Type, string Value, bool Shared)>("""
            select type, value, false from customer_identifiers where customer_id = any(@family)
            union
            select type, value, true from identifier_sharers where customer_id = any(@family)
            """, new { family }, ct);
        await LockIdentifiers(session, identifiers.Select(i => $"{tenant}\n{i.Type}\n{i.Value}"), ct);

        var contacts = (await session.Query<Guid>("select contact_event_id from timeline where customer_id = any(@family) order by attach_order",
            new { family }, ct)).ToArray();
        var held = (await session.Query<Guid>("select contact_event_id from held_contacts where tenant_id = @tenant and candidate_ids && @family",
            new { tenant, family }, ct)).ToArray();

        await session.Execute("""
            delete from contact_identifiers where contact_event_id = any(@contacts) or contact_event_id = any(@held);
            delete from timeline where customer_id = any(@family);
            delete from customer_identifiers where customer_id = any(@family);
            delete from identifier_sharers where customer_id = any(@family);
            delete from held_contacts where contact_event_id = any(@held);
            delete from distinct_customers where customer_id = any(@family) or other_id = any(@family);
            delete from customer_history where customer_id = any(@family);
            delete from mt_events where tenant_id = @tenant and stream_id = any(@family);
            delete from mt_streams where tenant_id = @tenant and id = any(@family);
            update customers set erased_at = now() where id = any(@family);
            insert into customer_history (tenant_id, customer_id, kind, rule) values (@tenant, @id, 'erased', 'erasure requested');
            """, new { id, family, contacts, held, tenant }, ct);
        // Other customers' records keep what is theirs (a shared identifier, a held contact's history line) but lose their
        // link to the erased customer: its id leaves their history and the id lists of their stream events.
        await session.Execute("""
            update customer_history set related_customer_ids = array(select r from unnest(related_customer_ids) r where r <> all(@family))
            where tenant_id = @tenant and related_customer_ids && @family;
            update customer_history set contact_event_id = null where tenant_id = @tenant and contact_event_id = any(@held);
            update customer_identifiers set origin_customer_id = null, linked_by_contact = null
            where tenant_id = @tenant and (origin_customer_id = any(@family) or linked_by_contact = any(@contacts));
            update mt_events e set data = (
                select jsonb_object_agg(k, case when jsonb_typeof(v) = 'array'
                    then coalesce((select jsonb_agg(x) from jsonb_array_elements(v) x where x #>> '{}' <> all(@familyText)), '[]'::jsonb) else v end)
                from jsonb_each(e.data) j(k, v))
            where e.tenant_id = @tenant and e.data::text ~ @pattern;
            """, new { tenant, family, held, contacts, familyText = family.Select(f => f.ToString()).ToArray(), pattern = string.Join('|', family) }, ct);

        // Copies: their dead letters, found by id or by an identifier they alone held (an event that failed before it was
        // stitched is theirs by its identifiers alone, and ingestion is told to forget it too), and identity's outbox rows
        // about them (a pending split stays: it carries the other side's change too).
        var about = family.Concat(contacts).Concat(held).ToList();
        var unstitched = await sweep.Sweep(session, [PipelineTopology.IdentityContactEvents],
            ErasureTraces.Of(tenant, about, identifiers.Where(i => !i.Shared).Select(i => i.Value)), ct);
        await OutboxErasure.Forget(session, about, ct, typeof(CustomerSplit));

        var former = family.Where(f => f != id).ToList();
        var erased = new CustomerErased(Guid.CreateVersion7(), tenant, id, former, [.. contacts, .. held, .. unstitched.Except(contacts).Except(held)],
            DateTimeOffset.UtcNow);
        session.Publish(erased, erased.Id);
        return (new ErasureResult(id, former, contacts.Length, held.Length), null);
    }
}
