using System.Text.Json;
using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Contacts.Identity.Customers;

public sealed record SplitRequest(Guid? MergedCustomerId);

public sealed record SplitResult(Guid CustomerId, Guid RestoredCustomerId, IReadOnlyList<Guid> CustomerContactEventIds,
    IReadOnlyList<Guid> RestoredContactEventIds, IReadOnlyList<Guid> ReattributedContactEventIds);

/// <summary>
/// POST /v1/customers/{id}/split {"mergedCustomerId": ...}: reverts a merge. The merged customer comes back with the
/// contacts and identifiers it (and whatever was merged into it) brought; contacts attached to the survivor since the
/// merge go to whichever side their own identifiers point at; the pair is remembered as distinct, so the same evidence
/// never merges them again; CustomerSplit tells effort and alerting to recompute both.
/// </summary>
public static class CustomerSplitting
{
    private sealed class Refusal(int status, string title, string detail) : Exception(detail)
    {
        public ProblemHttpResult Result => TypedResults.Problem(statusCode: status, title: title, detail: Message);
    }

    // A member given twice is refused, not read one way of two.
    private static readonly JsonSerializerOptions RequestJson = new(JsonSerializerDefaults.Web) { AllowDuplicateProperties = false };

    internal static async Task<Results<Ok<SplitResult>, ProblemHttpResult, ValidationProblem>> Split(Guid id, HttpContext http, Database database,
        SettingsStore settings, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        SplitRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<SplitRequest>(http.Request.Body, RequestJson, ct);
        }
        catch (JsonException)
        {
            request = null;
        }
        if (request?.MergedCustomerId is not { } mergedId)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["mergedCustomerId"] = ["is required: the id of a customer that was merged into this one (see mergedFrom)"],
            }, title: "The split request is not valid");
        }
        var rules = await settings.Rules(tenant, ct);
        try
        {
            var result = await database.InTransaction(session => SplitIn(session, tenant, id, mergedId, rules, ct), ct);
            return TypedResults.Ok(result);
        }
        catch (Refusal refusal)
        {
            return refusal.Result;
        }
    }

    internal static async Task<SplitResult> SplitIn(Session session, string tenant, Guid survivorId, Guid restoredId, IdentityRules rules, CancellationToken ct)
    {
        var rows = await CustomerRows(session, tenant, [survivorId, restoredId], ct);
        if (!rows.TryGetValue(survivorId, out var survivor) || survivor.ErasedAt is not null)
        {
            throw new Refusal(404, "Not found", $"No customer {survivorId} in this tenant.");
        }
        if (!rows.TryGetValue(restoredId, out var restored) || restored.ErasedAt is not null)
        {
            throw new Refusal(404, "Not found", $"mergedCustomerId: no customer {restoredId} in this tenant.");
        }
        if (survivor.MergedInto is { } into)
        {
            throw new Refusal(409, "Customer was merged", $"Customer {survivorId} was itself merged into {into}; split from that customer.");
        }
        if (restored.MergedInto != survivorId)
        {
            throw restored.MergedInto is null
                ? new Refusal(409, "Not merged", $"mergedCustomerId: customer {restoredId} is a customer of its own (not merged, or already split).")
                : new Refusal(422, "Not merged into this customer",
                    $"mergedCustomerId: customer {restoredId} was merged into {restored.MergedInto}, not into {survivorId}.");
        }

        // Serialise with stitching: lock the survivor's identifiers as a contact would; the stream versions catch the rest.
        var identifiers = await session.Query<(string Type, string Value)>(
            "select type, value from customer_identifiers where customer_id = @id order by type, value", new { id = survivorId }, ct);
        await LockIdentifiers(session, identifiers.Select(i => $"{tenant}\n{i.Type}\n{i.Value}"), ct);
        var survivorVersion = await session.Events.StreamVersion(survivorId, tenant, ct);
        var restoredVersion = await session.Events.StreamVersion(restoredId, tenant, ct);

        var family = await session.Query<Guid>("""
            with recursive family as (
                select id, 0 as depth from customers where id = @id
                union all
                select c.id, family.depth + 1 from customers c join family on c.merged_into = family.id where family.depth < 100)
            select id from family
            """, new { id = restoredId }, ct);
        var familyIds = family.ToArray();

        await session.Execute("""
            update customers set merged_into = null, merged_at = null where id = @restored;
            """, new { restored = restoredId }, ct);
        await session.Execute("""
            update customer_identifiers set customer_id = @restored where customer_id = @survivor and origin_customer_id = any(@family);
            update timeline set customer_id = @restored where customer_id = @survivor and origin_customer_id = any(@family);
            """, new { restored = restoredId, survivor = survivorId, family = familyIds }, ct);

        // Contacts the survivor took since the merge follow their own identifiers (linked before them, by someone else);
        // the contact that caused the merge was the survivor's by that very decision, and stays.
        var since = await session.Query<Guid>("""
            select contact_event_id from timeline where customer_id = @survivor and origin_customer_id = @survivor and attach_order > @mergeOrder
                and contact_event_id is distinct from @mergedBy
            order by attach_order
            """, new { survivor = survivorId, mergeOrder = restored.MergeOrder ?? long.MaxValue, mergedBy = restored.MergedBy }, ct);
        var reattributed = new List<Guid>();
        foreach (var contactId in since)
        {
            var owners = await session.Query<(Guid Customer, string Type)>("""
                select i.customer_id, i.type from contact_identifiers c
                join customer_identifiers i on i.tenant_id = c.tenant_id and i.type = c.type and i.value = c.value
                where c.contact_event_id = @contact and i.customer_id is not null and i.linked_by_contact is distinct from @contact
                """, new { contact = contactId }, ct);
            var goesTo = owners.OrderBy(o => rules.RankOf(o.Type)).Select(o => o.Customer).FirstOrDefault();
            if (goesTo != restoredId)
            {
                continue;
            }
            reattributed.Add(contactId);
            await session.Execute("""
                update timeline set customer_id = @restored where contact_event_id = @contact;
                update customer_identifiers set customer_id = @restored where linked_by_contact = @contact and customer_id = @survivor;
                """, new { restored = restoredId, survivor = survivorId, contact = contactId }, ct);
            await History(session, tenant, restoredId, "reattributed", contactId, "split: its own identifiers point at this customer", [survivorId], ct);
        }

        await session.Execute("""
            insert into distinct_customers (tenant_id, customer_id, other_id) values (@tenant, @a, @b), (@tenant, @b, @a) on conflict do nothing
            """, new { tenant, a = survivorId, b = restoredId }, ct);
        const string contactsOf = "select contact_event_id from timeline where customer_id = @id order by attach_order";
        var survivorContacts = await session.Query<Guid>(contactsOf, new { id = survivorId }, ct);
        var restoredContacts = await session.Query<Guid>(contactsOf, new { id = restoredId }, ct);

        var reverted = new MergeReverted(survivorId, restoredId, survivorContacts, restoredContacts);
        session.Events.AppendAtCommit(survivorId, tenant, survivorVersion, [reverted]);
        session.Events.AppendAtCommit(restoredId, tenant, restoredVersion, [reverted]);
        await History(session, tenant, survivorId, "split", null, "split: merge reverted by request; the pair is kept distinct", [restoredId], ct);
        await History(session, tenant, restoredId, "restored", null, "split: merge reverted by request; the pair is kept distinct", [survivorId], ct);

        var message = new CustomerSplit(Guid.CreateVersion7(), tenant, survivorId, restoredId, survivorContacts, restoredContacts, DateTimeOffset.UtcNow);
        session.Publish(message, message.Id);
        return new SplitResult(survivorId, restoredId, survivorContacts, restoredContacts, reattributed);
    }

    internal sealed record CustomerRow(Guid Id, Guid? MergedInto, long? MergeOrder, Guid? MergedBy, DateTimeOffset? ErasedAt);

    internal static async Task<Dictionary<Guid, CustomerRow>> CustomerRows(Session session, string tenant, Guid[] ids, CancellationToken ct) =>
        (await session.Query<CustomerRow>("""
            select id, merged_into as mergedinto, merge_order as mergeorder, merged_by_contact as mergedby, erased_at as erasedat
            from customers where tenant_id = @tenant and id = any(@ids) for update
            """, new { tenant, ids }, ct)).ToDictionary(r => r.Id);

    internal static Task History(Session session, string tenant, Guid customerId, string kind, Guid? contactId, string rule, Guid[] related,
        CancellationToken ct) =>
        session.Execute("""
            insert into customer_history (tenant_id, customer_id, kind, contact_event_id, rule, related_customer_ids)
            values (@tenant, @customer, @kind, @contact, @rule, @related)
            """, new { tenant, customer = customerId, kind, contact = contactId, rule, related }, ct);

    /// <summary>Takes the identifiers' locks as stitching does (in one order, so two writers never wait on each other in a circle).</summary>
    internal static Task LockIdentifiers(Session session, IEnumerable<string> keys, CancellationToken ct) =>
        session.Execute("select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(@keys) as t(k)",
            new { keys = keys.Distinct().Order(StringComparer.Ordinal).ToArray() }, ct);
}
