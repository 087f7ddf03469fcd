using Contacts.Contracts;
using Contacts.ServiceDefaults.Persistence;
using Npgsql;

namespace Contacts.Identity.Stitching;

/// <summary>The outcome of stitching one contact: its customer, whether that customer is new, and who was merged into it.</summary>
public sealed record Attribution(Guid CustomerId, bool IsNewCustomer, IReadOnlyList<Guid> MergedIds);

/// <summary>
/// Attaches a contact to a customer by exact match on its normalised identifiers, inside the caller's transaction.
/// Transaction-scoped advisory locks on the identifiers (taken in sorted order, so no deadlock) serialise contacts that
/// share an identifier; stream versions catch the rest (a concurrent change to a matched customer), and the consumer retries.
/// </summary>
public sealed class Stitcher
{
    public async Task<Attribution> Attribute(Session session, ContactEventReceived contact, CancellationToken ct)
    {
        var identifiers = contact.Identifiers.Distinct().OrderBy(i => i.Type, StringComparer.Ordinal).ThenBy(i => i.Value, StringComparer.Ordinal).ToList();
        await LockIdentifiers(session, contact.TenantId, identifiers, ct);

        if (await AlreadyAttached(session, contact.Id, ct) is { } existing)
        {
            return new Attribution(existing, false, []);
        }

        var matches = await FindMatches(session, contact.TenantId, identifiers, ct);
        var known = await KnownIdentifiers(session, contact.TenantId, identifiers, ct);
        var fresh = identifiers.Where(i => !known.Contains((i.Type, i.Value))).ToList();
        var attached = new ContactAttached(contact.Id, contact.Channel, contact.Kind, contact.OccurredAt);
        var links = fresh.Select(i => (object)new IdentifierLinked(i.Type, i.Value, contact.Id));

        switch (MatchDecision.Decide(matches))
        {
            case MatchDecision.CreateCustomer:
            {
                var customerId = Guid.CreateVersion7();
                await Execute(session, "insert into customers (id, tenant_id) values (@id, @tenant)", ct,
                    ("id", customerId), ("tenant", contact.TenantId));
                await session.Events.StartStream<Customer>(customerId, contact.TenantId,
                    [new CustomerCreated(customerId, contact.TenantId, contact.Id), .. links, attached], ct);
                await Project(session, contact, customerId, fresh, ct);
                return new Attribution(customerId, true, []);
            }
            case MatchDecision.Attach(var customerId):
            {
                await session.Events.Append(customerId, await Version(session, customerId, ct), [.. links, attached], ct);
                await Project(session, contact, customerId, fresh, ct);
                return new Attribution(customerId, false, []);
            }
            case MatchDecision.Merge(var survivorId, var mergedIds):
            {
                foreach (var mergedId in mergedIds)
                {
                    await session.Events.Append(mergedId, await Version(session, mergedId, ct), [new CustomerMergedInto(survivorId, contact.Id)], ct);
                    await Execute(session, """
                        update customers set merged_into = @survivor where id = @merged;
                        update customer_identifiers set customer_id = @survivor where customer_id = @merged;
                        update timeline set customer_id = @survivor where customer_id = @merged;
                        """, ct, ("survivor", survivorId), ("merged", mergedId));
                }
                await session.Events.Append(survivorId, await Version(session, survivorId, ct),
                    [new CustomersAbsorbed(mergedIds, contact.Id), .. links, attached], ct);
                await Project(session, contact, survivorId, fresh, ct);
                return new Attribution(survivorId, false, mergedIds);
            }
            default:
                throw new InvalidOperationException("unknown match decision");
        }
    }

    private static async Task LockIdentifiers(Session session, string tenantId, IReadOnlyList<ContactIdentifier> identifiers, CancellationToken ct)
    {
        foreach (var identifier in identifiers)
        {
            await Execute(session, "select pg_advisory_xact_lock(hashtextextended(@key, 0))", ct,
                ("key", $"{tenantId}\n{identifier.Type}\n{identifier.Value}"));
        }
    }

    private static async Task<Guid?> AlreadyAttached(Session session, Guid contactEventId, CancellationToken ct)
    {
        await using var cmd = session.Command("select customer_id from timeline where contact_event_id = @id");
        cmd.Parameters.AddWithValue("id", contactEventId);
        return await cmd.ExecuteScalarAsync(ct) as Guid?;
    }

    private static async Task<List<CustomerMatch>> FindMatches(Session session, string tenantId, IReadOnlyList<ContactIdentifier> identifiers, CancellationToken ct)
    {
        await using var cmd = session.Command("""
            select distinct c.id, c.created_at
            from customer_identifiers i join customers c on c.id = i.customer_id
            where i.tenant_id = @tenant and (i.type, i.value) in (select * from unnest(@types, @values))
            """);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        cmd.Parameters.AddWithValue("types", identifiers.Select(i => i.Type).ToArray());
        cmd.Parameters.AddWithValue("values", identifiers.Select(i => i.Value).ToArray());
        var result = new List<CustomerMatch>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add(new CustomerMatch(reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1)));
        }
        return result;
    }

    private static async Task<HashSet<(string, string)>> KnownIdentifiers(Session session, string tenantId, IReadOnlyList<ContactIdentifier> identifiers, CancellationToken ct)
    {
        await using var cmd = session.Command("""
            select type, value from customer_identifiers
            where tenant_id = @tenant and (type, value) in (select * from unnest(@types, @values))
            """);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        cmd.Parameters.AddWithValue("types", identifiers.Select(i => i.Type).ToArray());
        cmd.Parameters.AddWithValue("values", identifiers.Select(i => i.Value).ToArray());
        var result = new HashSet<(string, string)>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add((reader.GetString(0), reader.GetString(1)));
        }
        return result;
    }

    private static async Task<long> Version(Session session, Guid customerId, CancellationToken ct) =>
        await session.Events.StreamVersion(customerId, ct)
        ?? throw new InvalidOperationException($"customer {customerId} has no stream");

    /// <summary>Inline projection: the identifier index and the timeline row, written with the events.</summary>
    private static async Task Project(Session session, ContactEventReceived contact, Guid customerId, IReadOnlyList<ContactIdentifier> fresh, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(session.Connection, session.Transaction);
        foreach (var identifier in fresh)
        {
            var link = new NpgsqlBatchCommand("insert into customer_identifiers (tenant_id, type, value, customer_id) values (@tenant, @type, @value, @customer)");
            link.Parameters.AddWithValue("tenant", contact.TenantId);
            link.Parameters.AddWithValue("type", identifier.Type);
            link.Parameters.AddWithValue("value", identifier.Value);
            link.Parameters.AddWithValue("customer", customerId);
            batch.BatchCommands.Add(link);
        }
        var row = new NpgsqlBatchCommand("""
            insert into timeline (contact_event_id, tenant_id, customer_id, source, source_event_id, contact_id, channel, direction, kind, occurred_at, topic)
            values (@id, @tenant, @customer, @source, @sourceEventId, @contactId, @channel, @direction, @kind, @occurredAt, @topic)
            """);
        row.Parameters.AddWithValue("id", contact.Id);
        row.Parameters.AddWithValue("tenant", contact.TenantId);
        row.Parameters.AddWithValue("customer", customerId);
        row.Parameters.AddWithValue("source", contact.Source);
        row.Parameters.AddWithValue("sourceEventId", contact.SourceEventId);
        row.Parameters.AddWithValue("contactId", contact.ContactId);
        row.Parameters.AddWithValue("channel", contact.Channel);
        row.Parameters.AddWithValue("direction", contact.Direction);
        row.Parameters.AddWithValue("kind", contact.Kind);
        row.Parameters.AddWithValue("occurredAt", contact.OccurredAt);
        row.Parameters.AddWithValue("topic", (object?)contact.Topic ?? DBNull.Value);
        batch.BatchCommands.Add(row);
        await batch.ExecuteNonQueryAsync(ct);
    }

    private static async Task Execute(Session session, string sql, CancellationToken ct, params (string Name, object Value)[] args)
    {
        await using var cmd = session.Command(sql);
        foreach (var (name, value) in args)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
