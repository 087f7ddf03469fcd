using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Messaging.Persistence;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Identity.Stitching;

/// <summary>
/// The outcome of stitching one contact: its customer (null when held as ambiguous, with the candidates), whether that
/// customer is new, and who was merged into it.
/// </summary>
public sealed record Attribution(Guid? CustomerId, bool IsNewCustomer, IReadOnlyList<Guid> MergedIds, IReadOnlyList<Guid> Candidates,
    IReadOnlyList<ContactEventReceived>? ResolvedHeld = null, IReadOnlyList<string>? MergedBy = null)
{
    public bool IsHeld => CustomerId is null;
}

/// <summary>
/// The shell around <see cref="StitchDecision"/>, inside the caller's transaction: lock the contact's identifiers, load
/// what they touch, decide, then append the customers' events and project the index, timeline and history.
/// Transaction-scoped advisory locks on the identifiers (sorted, so no deadlock) serialise contacts sharing an identifier;
/// every customer the decision touched gets an event appended at the version read before deciding, so a concurrent
/// change to any of them fails the append (ConcurrencyException) and the consumer retries on fresh state.
/// </summary>
public sealed partial class Stitcher(SettingsStore settings)
{
    public async Task<Attribution> Attribute(Session session, ContactEventReceived contact, CancellationToken ct) =>
        await Attribute(session, contact, await settings.Rules(contact.TenantId, ct), ct);

    /// <summary>One contact, stitched as a set of one (AttributeSet): the same reads, decision and writes as a batch.</summary>
    /// <param name="afterIndexRead">Runs once the identifier index has been read: the point where tests inject a concurrent stitch.</param>
    public static async Task<Attribution> Attribute(Session session, ContactEventReceived contact, IdentityRules rules, CancellationToken ct,
        Func<Task>? afterIndexRead = null) =>
        (await AttributeSet(session, [contact], _ => rules, ct, afterIndexRead: afterIndexRead))[0];

    /// <summary>How a held event is kept, to publish it once settled; without identifiers (contact_identifiers keeps them).</summary>
    private static readonly System.Text.Json.JsonSerializerOptions HeldJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    private static string ContactKey(ContactEventReceived contact) => $"{contact.TenantId}\n~contact\n{contact.Source}\n{contact.ContactId}";

    /// <summary>
    /// One round trip: when each customer was created, the identifiers linked to it (shared ones excluded), and which of
    /// them were split apart from each other.
    /// </summary>
    private static async Task<(Dictionary<Guid, DateTimeOffset> Created, Dictionary<Guid, List<(string, string)>> Identifiers, HashSet<(Guid, Guid)> Distinct)>
        LoadCustomers(Session session, Guid[] ids, CancellationToken ct)
    {
        var created = new Dictionary<Guid, DateTimeOffset>();
        var identifiers = ids.ToDictionary(t => t, _ => new List<(string, string)>());
        var distinct = new HashSet<(Guid, Guid)>();
        await using var batch = new NpgsqlBatch(session.Connection, session.Transaction);
        batch.BatchCommands.Add(Command("select id, created_at from customers where id = any(@ids)", ("ids", ids)));
        batch.BatchCommands.Add(Command("select customer_id, type, value from customer_identifiers where customer_id = any(@ids)", ("ids", ids)));
        batch.BatchCommands.Add(Command("select customer_id, other_id from distinct_customers where customer_id = any(@ids) and other_id = any(@ids)",
            ("ids", ids)));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            created[reader.GetGuid(0)] = reader.GetFieldValue<DateTimeOffset>(1);
        }
        await reader.NextResultAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            identifiers[reader.GetGuid(0)].Add((reader.GetString(1), reader.GetString(2)));
        }
        await reader.NextResultAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            distinct.Add((reader.GetGuid(0), reader.GetGuid(1)));
        }
        return (created, identifiers, distinct);
    }

    /// <summary>
    /// What a contact's outcomes write: the projections' statements added to the caller's batch (in decision order, which
    /// the statements depend on), the history, contact identifiers and the customers' events at commit.
    /// </summary>
    /// <param name="heldEvent">Another event of the contact held as ambiguous, by id, as it arrived.</param>
    /// <param name="readVersion">A customer's stream version as the transaction read it (null: started in this transaction).</param>
    private static Attribution Record(Session session, NpgsqlBatch batch, ProjectionRows rows, ContactEventReceived contact, IReadOnlyList<IdentifierUse> uses,
        IReadOnlyList<StitchOutcome> outcomes, Func<Guid, ContactEventReceived> heldEvent, Func<Guid, long?> readVersion)
    {
        var resolved = new List<ContactEventReceived>();
        var tenant = contact.TenantId;
        var streams = CustomerStreams.EventsOf(contact, outcomes);
        void Sql(string sql, params (string, object?)[] args) => batch.BatchCommands.Add(Command(sql, args));
        var history = session.AtCommit<HistoryRows>();
        void History(Guid customerId, string kind, string? type, string? value, string? rule, IReadOnlyList<Guid>? related = null, Guid? of = null) =>
            history.Add(new HistoryRow(tenant, customerId, kind, of ?? contact.Id, type, value, rule, [.. related ?? []]));
        void Timeline(ContactEventReceived e, Guid customerId) => rows.Timeline.Add((e, customerId));
        var statuses = new Dictionary<(string, string), (string Status, string? Rule)>();

        Guid? target = null;
        var created = false;
        var merged = new List<Guid>();
        var mergedBy = new List<string>();
        IReadOnlyList<Guid> candidates = [];
        foreach (var outcome in outcomes)
        {
            switch (outcome)
            {
                case StitchOutcome.Created(var id, var rule):
                    (target, created) = (id, true);
                    rows.Customers.Add((id, tenant));
                    History(id, "created", null, null, rule);
                    break;
                case StitchOutcome.Merged(var survivor, var mergedId, var type, var value, var rule):
                    merged.Add(mergedId);
                    mergedBy.Add(type);
                    Sql("update customers set merged_into = @s, merged_at = now(), merge_order = nextval('identity_order'), merged_by_contact = @contact where id = @m",
                        ("s", survivor), ("m", mergedId), ("contact", contact.Id));
                    rows.MergedInto[mergedId] = survivor;
                    foreach (var sql in MergeProjection)
                    {
                        Sql(sql, ("s", survivor), ("m", mergedId));
                    }
                    History(survivor, "merged", type, value, rule, [mergedId]);
                    History(mergedId, "merged_into", type, value, rule, [survivor]);
                    statuses[(type, value)] = ("matched", rule);
                    break;
                case StitchOutcome.Linked(var id, var type, var value, var rule):
                    rows.Identifiers.Add((tenant, type, value, id, contact.Id));
                    History(id, "identifier_linked", type, value, rule);
                    statuses[(type, value)] = ("linked", rule);
                    break;
                case StitchOutcome.Attached(var id, var type, var value, var rule):
                    target = id;
                    Timeline(contact, id);
                    History(id, "attached", type, value, rule);
                    if (type is not null)
                    {
                        statuses.TryAdd((type, value!), ("matched", rule));
                    }
                    break;
                case StitchOutcome.Shared(var type, var value, var ids, var rule):
                    Sql("update customer_identifiers set shared = true, customer_id = null where tenant_id = @tenant and type = @type and value = @value",
                        ("tenant", tenant), ("type", type), ("value", value));
                    Sql("""
                        insert into identifier_sharers (tenant_id, type, value, customer_id) select @tenant, @type, @value, unnest(@ids)
                        on conflict do nothing
                        """, ("tenant", tenant), ("type", type), ("value", value), ("ids", ids.ToArray()));
                    foreach (var id in ids)
                    {
                        History(id, "identifier_shared", type, value, rule, [.. ids.Where(i => i != id)]);
                    }
                    statuses[(type, value)] = ("shared", rule);
                    break;
                case StitchOutcome.Kept(var type, var value, var rule):
                    statuses[(type, value)] = ("kept", rule);
                    break;
                case StitchOutcome.HeldAmbiguous(var ids, var rule):
                    candidates = ids;
                    Sql("""
                        insert into held_contacts (contact_event_id, tenant_id, candidate_ids, rule, source, contact_id, channel, kind, occurred_at, event)
                        values (@id, @tenant, @ids, @rule, @source, @contactId, @channel, @kind, @occurredAt, @event::jsonb)
                        """, ("id", contact.Id), ("tenant", tenant), ("ids", ids.ToArray()), ("rule", rule), ("source", contact.Source),
                        ("contactId", contact.ContactId), ("channel", contact.Channel), ("kind", contact.Kind), ("occurredAt", contact.OccurredAt),
                        ("event", System.Text.Json.JsonSerializer.Serialize(contact with { Identifiers = [] }, HeldJson)));
                    foreach (var id in ids)
                    {
                        History(id, "held_ambiguous", null, null, rule, [.. ids.Where(i => i != id)]);
                    }
                    break;
                case StitchOutcome.HeldResolved(var held, var id, var rule):
                    var settled = heldEvent(held.ContactEventId);
                    Sql("delete from held_contacts where contact_event_id = @id", ("id", held.ContactEventId));
                    Timeline(settled, id);
                    History(id, "attached", null, null, rule, of: held.ContactEventId);
                    resolved.Add(settled);
                    break;
            }
        }
        foreach (var (type, value) in outcomes.OfType<StitchOutcome.Kept>().Select(k => (k.Type, k.Value)))
        {
            if (target is { } t)
            {
                History(t, "identifier_kept", type, value, statuses[(type, value)].Rule);
            }
        }
        var contactIdentifiers = session.AtCommit<ContactIdentifierRows>();
        foreach (var identifier in uses)
        {
            var (status, rule) = statuses.GetValueOrDefault((identifier.Type, identifier.Value), ("matched", null));
            contactIdentifiers.Add(new ContactIdentifierRow(contact.Id, tenant, identifier.Type, identifier.Value, status, rule));
        }
        // The customers' events are written at commit, with every other contact's of the transaction, in one statement
        // that moves each stream only from the version read here (the transaction does not commit otherwise).
        foreach (var (stream, events) in streams.OrderBy(s => s.Key))
        {
            if (created && stream == target)
            {
                session.Events.StartStreamAtCommit<Customer>(stream, tenant, events);
            }
            else
            {
                session.Events.AppendAtCommit(stream, tenant, readVersion(stream), events);
            }
        }
        return new Attribution(target, created, merged, candidates, resolved, [.. mergedBy.Distinct().Order(StringComparer.Ordinal)]);
    }

    private sealed record HistoryRow(string Tenant, Guid CustomerId, string Kind, Guid ContactEventId, string? Type, string? Value, string? Rule,
        Guid[] Related);

    /// <summary>
    /// The customers' history lines a transaction adds, written at its commit in one statement (nothing in the stitching
    /// reads them back), in the order they were decided: the history's seq keeps that order.
    /// </summary>
    private sealed class HistoryRows : CommitRows<HistoryRow>
    {
        protected override NpgsqlBatchCommand Write(IReadOnlyList<HistoryRow> rows) => Command("""
            insert into customer_history (tenant_id, customer_id, kind, contact_event_id, identifier_type, identifier_value, rule, related_customer_ids)
            select t, c, k, e, ty, v, r, rel::uuid[]
            from unnest(@tenants, @customers, @kinds, @events, @types, @values, @rules, @related) with ordinality as u(t, c, k, e, ty, v, r, rel, n)
            order by n
            """, ("tenants", rows.Select(r => r.Tenant).ToArray()), ("customers", rows.Select(r => r.CustomerId).ToArray()),
            ("kinds", rows.Select(r => r.Kind).ToArray()), ("events", rows.Select(r => r.ContactEventId).ToArray()),
            ("types", rows.Select(r => r.Type).ToArray()), ("values", rows.Select(r => r.Value).ToArray()), ("rules", rows.Select(r => r.Rule).ToArray()),
            // A list of ids per row: unnest takes no array of arrays, so each travels as its array literal.
            ("related", rows.Select(r => "{" + string.Join(",", r.Related) + "}").ToArray()));
    }

    private sealed record ContactIdentifierRow(Guid ContactEventId, string Tenant, string Type, string Value, string Status, string? Rule);

    /// <summary>How each identifier of the contacts a transaction stitched was used, written at its commit in one statement.</summary>
    private sealed class ContactIdentifierRows : CommitRows<ContactIdentifierRow>
    {
        protected override NpgsqlBatchCommand Write(IReadOnlyList<ContactIdentifierRow> rows) => Command("""
            insert into contact_identifiers (contact_event_id, tenant_id, type, value, status, rule)
            select * from unnest(@ids, @tenants, @types, @values, @statuses, @rules)
            on conflict do nothing
            """, ("ids", rows.Select(r => r.ContactEventId).ToArray()), ("tenants", rows.Select(r => r.Tenant).ToArray()),
            ("types", rows.Select(r => r.Type).ToArray()), ("values", rows.Select(r => r.Value).ToArray()),
            ("statuses", rows.Select(r => r.Status).ToArray()), ("rules", rows.Select(r => r.Rule).ToArray()));
    }

    /// <summary>
    /// The rows of the three tables every contact writes (customers, their identifiers, the timeline), and the merges that
    /// move identifiers and timeline to survivors: one statement per table for the whole set. The inserts go first in
    /// the set's batch, before the statements that must keep decision order: what a later outcome changes (a merge, a
    /// share) concerns live customers and identifiers only, which the earlier rows are. The moves go last, each merged
    /// customer's rows straight to the survivor it ends under (a merged into b, then b into c: both to c), which is what
    /// the merges one after another leave; the other statements read neither table.
    /// </summary>
    private sealed class ProjectionRows
    {
        public List<(Guid Id, string Tenant)> Customers { get; } = [];
        public List<(string Tenant, string Type, string Value, Guid CustomerId, Guid ContactEventId)> Identifiers { get; } = [];
        public List<(ContactEventReceived Contact, Guid CustomerId)> Timeline { get; } = [];
        /// <summary>Each customer the set merged away, and the survivor it was merged into.</summary>
        public Dictionary<Guid, Guid> MergedInto { get; } = [];

        public IEnumerable<NpgsqlBatchCommand> Inserts()
        {
            if (Customers.Count > 0)
            {
                yield return Command("""
                    insert into customers (id, tenant_id) select i, t from unnest(@ids, @tenants) with ordinality as u(i, t, n) order by n
                    """, ("ids", Customers.Select(c => c.Id).ToArray()), ("tenants", Customers.Select(c => c.Tenant).ToArray()));
            }
            if (Identifiers.Count > 0)
            {
                yield return Command("""
                    insert into customer_identifiers (tenant_id, type, value, customer_id, origin_customer_id, linked_by_contact)
                    select t, ty, v, c, c, k from unnest(@tenants, @types, @values, @customers, @contacts) as u(t, ty, v, c, k)
                    """, ("tenants", Identifiers.Select(i => i.Tenant).ToArray()), ("types", Identifiers.Select(i => i.Type).ToArray()),
                    ("values", Identifiers.Select(i => i.Value).ToArray()), ("customers", Identifiers.Select(i => i.CustomerId).ToArray()),
                    ("contacts", Identifiers.Select(i => i.ContactEventId).ToArray()));
            }
            if (Timeline.Count > 0)
            {
                yield return Command("""
                    insert into timeline (contact_event_id, tenant_id, customer_id, origin_customer_id, source, source_event_id, contact_id, channel, direction, kind, occurred_at, topic)
                    select i, t, c, c, s, se, ci, ch, d, k, a, tp
                    from unnest(@ids, @tenants, @customers, @sources, @sourceEventIds, @contactIds, @channels, @directions, @kinds, @occurredAt, @topics)
                        as u(i, t, c, s, se, ci, ch, d, k, a, tp)
                    """, ("ids", Timeline.Select(r => r.Contact.Id).ToArray()), ("tenants", Timeline.Select(r => r.Contact.TenantId).ToArray()),
                    ("customers", Timeline.Select(r => r.CustomerId).ToArray()), ("sources", Timeline.Select(r => r.Contact.Source).ToArray()),
                    ("sourceEventIds", Timeline.Select(r => r.Contact.SourceEventId).ToArray()), ("contactIds", Timeline.Select(r => r.Contact.ContactId).ToArray()),
                    ("channels", Timeline.Select(r => r.Contact.Channel).ToArray()), ("directions", Timeline.Select(r => r.Contact.Direction).ToArray()),
                    ("kinds", Timeline.Select(r => r.Contact.Kind).ToArray()), ("occurredAt", Timeline.Select(r => r.Contact.OccurredAt).ToArray()),
                    ("topics", Timeline.Select(r => r.Contact.Topic).ToArray()));
            }
        }

        public IEnumerable<NpgsqlBatchCommand> Moves()
        {
            if (MergedInto.Count == 0)
            {
                yield break;
            }
            Guid Final(Guid id)
            {
                while (MergedInto.TryGetValue(id, out var next))
                {
                    id = next;
                }
                return id;
            }
            Guid[] merges = [.. MergedInto.Keys];
            Guid[] survivors = [.. merges.Select(Final)];
            foreach (var table in (string[])["customer_identifiers", "timeline"])
            {
                yield return Command($"update {table} x set customer_id = f.s from unnest(@merged, @survivors) as f(m, s) where x.customer_id = f.m",
                    ("merged", merges), ("survivors", survivors));
            }
        }
    }

    /// <summary>
    /// What a merge moves to the survivor besides the customer row, identifiers and timeline (<see cref="ProjectionRows"/>):
    /// shares, held candidates, distinct pairs.
    /// </summary>
    private static readonly string[] MergeProjection =
    [
        """
        delete from identifier_sharers x where x.customer_id = @m
            and exists (select 1 from identifier_sharers y where y.tenant_id = x.tenant_id and y.type = x.type and y.value = x.value and y.customer_id = @s)
        """,
        "update identifier_sharers set customer_id = @s where customer_id = @m",
        "update held_contacts set candidate_ids = array(select distinct unnest(array_replace(candidate_ids, @m, @s))) where candidate_ids @> array[@m]",
        """
        insert into distinct_customers (tenant_id, customer_id, other_id)
        select tenant_id, @s, other_id from distinct_customers where customer_id = @m
        union select tenant_id, other_id, @s from distinct_customers where customer_id = @m
        on conflict do nothing
        """,
    ];

    internal static NpgsqlBatchCommand Command(string sql, params (string Name, object? Value)[] args)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in args)
        {
            cmd.Parameters.Add(value switch
            {
                null => new NpgsqlParameter(name, DBNull.Value),
                Guid[] ids => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = ids },
                _ => new NpgsqlParameter(name, value),
            });
        }
        return cmd;
    }
}
