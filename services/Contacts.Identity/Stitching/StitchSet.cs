using System.Diagnostics;
using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Npgsql;

namespace Contacts.Identity.Stitching;

public sealed partial class Stitcher
{
    /// <summary>A batch of contacts stitched as a set (see the static overload), with each tenant's rules.</summary>
    public async Task<IReadOnlyList<Attribution>> AttributeSet(Session session, IReadOnlyList<ContactEventReceived> contacts, CancellationToken ct,
        IReadOnlyList<Activity?>? spans = null, Action<int, Attribution>? decided = null)
    {
        var rules = new Dictionary<string, IdentityRules>();
        foreach (var tenant in contacts.Select(c => c.TenantId).Distinct())
        {
            rules[tenant] = await settings.Rules(tenant, ct);
        }
        return await AttributeSet(session, contacts, tenant => rules[tenant], ct, spans, decided);
    }

    /// <summary>
    /// Stitches a batch of contacts as a set, in the caller's transaction, as if each had come alone in arrival order:
    /// one round trip takes the locks of every identifier and contact of the batch (sorted, so no deadlock), finds
    /// which contacts were stitched already, reads the identifier index with the customers' versions and the contacts'
    /// other events; one more loads the customers they touch; <see cref="StitchDecision"/> then decides each contact on
    /// a <see cref="StitchSetState"/> that takes in what the contacts before it changed, and one round trip writes every
    /// contact's projections in decision order (the customers' events, history and contact identifiers go at commit).
    /// When anything fails nothing of it stays (the transaction rolls back) and the caller stitches the contacts one by one.
    /// </summary>
    /// <param name="spans">Each contact's span, current while it is decided and recorded (what it appends and publishes carries its trace).</param>
    /// <param name="decided">Called with each contact's attribution, under its span, in arrival order.</param>
    /// <param name="afterIndexRead">Runs once the identifier index has been read: the point where tests inject a concurrent stitch.</param>
    public static async Task<IReadOnlyList<Attribution>> AttributeSet(Session session, IReadOnlyList<ContactEventReceived> contacts,
        Func<string, IdentityRules> rulesOf, CancellationToken ct, IReadOnlyList<Activity?>? spans = null, Action<int, Attribution>? decided = null,
        Func<Task>? afterIndexRead = null)
    {
        var uses = contacts.Select(c => rulesOf(c.TenantId).Prepare(c.Identifiers)).ToList();
        var state = await ReadSet(session, contacts, uses, afterIndexRead, ct);
        var attributions = new Attribution[contacts.Count];
        var previous = Activity.Current;
        var batch = new NpgsqlBatch(session.Connection, session.Transaction);
        await using var _ = batch;
        var rows = new ProjectionRows();
        try
        {
            for (var i = 0; i < contacts.Count; i++)
            {
                Activity.Current = spans?[i] ?? previous;
                var contact = contacts[i];
                if (state.Stitched.TryGetValue(contact.Id, out var earlier))
                {
                    attributions[i] = earlier;
                }
                else
                {
                    var outcomes = StitchDecision.Decide(state.For(contact, uses[i]), uses[i], rulesOf(contact.TenantId), Guid.CreateVersion7());
                    var key = StitchSetState.KeyOf(contact);
                    attributions[i] = Record(session, batch, rows, contact, uses[i], outcomes, held => state.Held[key][held].Event,
                        stream => state.Versions.TryGetValue(stream, out var version) ? version : null);
                    state.Evolve(contact, outcomes, attributions[i]);
                }
                decided?.Invoke(i, attributions[i]);
            }
        }
        finally
        {
            Activity.Current = previous;
        }
        foreach (var (insert, at) in rows.Inserts().Select((c, at) => (c, at)))
        {
            batch.BatchCommands.Insert(at, insert);
        }
        foreach (var move in rows.Moves())
        {
            batch.BatchCommands.Add(move);
        }
        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        return attributions;
    }

    /// <summary>The batch's locks and reads: two round trips, whatever the number of contacts.</summary>
    private static async Task<StitchSetState> ReadSet(Session session, IReadOnlyList<ContactEventReceived> contacts,
        IReadOnlyList<IReadOnlyList<IdentifierUse>> uses, Func<Task>? afterIndexRead, CancellationToken ct)
    {
        var identifiers = contacts.SelectMany((c, i) => uses[i].Where(u => u.Usable).Select(u => (Tenant: c.TenantId, u.Type, u.Value))).Distinct().ToList();
        var keys = contacts.Select(StitchSetState.KeyOf).Distinct().ToList();
        var state = new StitchSetState();
        await using (var batch = new NpgsqlBatch(session.Connection, session.Transaction))
        {
            batch.BatchCommands.Add(Command("select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(@keys) as t(k)",
                ("keys", identifiers.Select(i => $"{i.Tenant}\n{i.Type}\n{i.Value}")
                    .Concat(contacts.Select(ContactKey)).Distinct().Order(StringComparer.Ordinal).ToArray())));
            batch.BatchCommands.Add(Command("select now()"));
            batch.BatchCommands.Add(Command("""
                select contact_event_id, customer_id, null::uuid[] from timeline where contact_event_id = any(@ids)
                union all
                select contact_event_id, null, candidate_ids from held_contacts where contact_event_id = any(@ids)
                """, ("ids", contacts.Select(c => c.Id).Distinct().ToArray())));
            // The index and the versions of the customers it names come from one statement, so from one snapshot: a merge
            // committed after it moves identifiers to the survivor and bumps the merged customer's version, so the appends
            // fail and the contacts are stitched again on fresh state. (Read in two statements, a merge committed between
            // them left a contact attached to the customer just merged away: one person on two customers.) Each identifier
            // is looked up on its own (lateral, kept from being flattened by offset 0): as a join, the generic plan of the
            // prepared statement, made while the tables were young, read every identifier of the tenant for each contact.
            batch.BatchCommands.Add(Command("""
                select k.tenant, k.type, k.value, i.customer_id, false, st.version from unnest(@tenants, @types, @values) as k(tenant, type, value)
                cross join lateral (select customer_id from customer_identifiers
                                    where tenant_id = k.tenant and type = k.type and value = k.value and not shared offset 0) i
                left join mt_streams st on st.tenant_id = k.tenant and st.id = i.customer_id
                union all
                select k.tenant, k.type, k.value, s.customer_id, true, st.version from unnest(@tenants, @types, @values) as k(tenant, type, value)
                cross join lateral (select customer_id from identifier_sharers
                                    where tenant_id = k.tenant and type = k.type and value = k.value offset 0) s
                left join mt_streams st on st.tenant_id = k.tenant and st.id = s.customer_id
                """, ("tenants", identifiers.Select(i => i.Tenant).ToArray()), ("types", identifiers.Select(i => i.Type).ToArray()),
                ("values", identifiers.Select(i => i.Value).ToArray())));
            batch.BatchCommands.Add(Command("""
                select k.tenant, k.source, k.contact_id, t.contact_event_id, t.customer_id, null::text, null::uuid[]
                from unnest(@tenants, @sources, @contacts) as k(tenant, source, contact_id)
                cross join lateral (select contact_event_id, customer_id from timeline
                                    where tenant_id = k.tenant and source = k.source and contact_id = k.contact_id offset 0) t
                union all
                select k.tenant, k.source, k.contact_id, h.contact_event_id, null, h.event::text, h.candidate_ids
                from unnest(@tenants, @sources, @contacts) as k(tenant, source, contact_id)
                cross join lateral (select contact_event_id, event, candidate_ids from held_contacts
                                    where tenant_id = k.tenant and source = k.source and contact_id = k.contact_id and event is not null offset 0) h
                """, ("tenants", keys.Select(k => k.Tenant).ToArray()), ("sources", keys.Select(k => k.Source).ToArray()),
                ("contacts", keys.Select(k => k.ContactId).ToArray())));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            state.Now = reader.GetFieldValue<DateTimeOffset>(0);
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                state.Stitched[reader.GetGuid(0)] = reader.IsDBNull(1)
                    ? new Attribution(null, false, [], reader.GetFieldValue<Guid[]>(2))
                    : new Attribution(reader.GetGuid(1), false, [], []);
            }
            await reader.NextResultAsync(ct);
            var sharers = new Dictionary<(string, string, string), List<Guid>>();
            while (await reader.ReadAsync(ct))
            {
                var key = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
                var customer = reader.GetGuid(3);
                if (!reader.IsDBNull(5))
                {
                    state.Versions[customer] = reader.GetInt64(5);
                }
                if (reader.GetBoolean(4))
                {
                    (sharers.TryGetValue(key, out var list) ? list : sharers[key] = []).Add(customer);
                }
                else
                {
                    state.Index[key] = new IdentifierState.Linked(customer);
                }
            }
            foreach (var (key, ids) in sharers)
            {
                state.Index[key] = new IdentifierState.Shared([.. ids.Order()]);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var key = new StitchSetState.ContactKey(reader.GetString(0), reader.GetString(1), reader.GetString(2));
                if (!reader.IsDBNull(4))
                {
                    state.AttributedOf(key)[reader.GetGuid(3)] = reader.GetGuid(4);
                }
                else if (System.Text.Json.JsonSerializer.Deserialize<ContactEventReceived>(reader.GetString(5), HeldJson) is { } held)
                {
                    state.HeldOf(key)[reader.GetGuid(3)] = (held, reader.GetFieldValue<Guid[]>(6));
                }
            }
        }

        if (afterIndexRead is not null)
        {
            await afterIndexRead();
        }
        var touched = state.Index.Values.SelectMany(StitchSetState.CustomersOf).Distinct().ToArray();
        if (touched.Length == 0)
        {
            return state;
        }
        // Anything committed after the versions were read fails the appends at commit, so the rest may be read a little later.
        var (created, linked, distinct) = await LoadCustomers(session, touched, ct);
        foreach (var id in touched)
        {
            state.Customers[id] = new StitchSetState.Customer(created[id]);
            state.Customers[id].Identifiers.AddRange(linked[id]);
        }
        state.Distinct.UnionWith(distinct);
        return state;
    }
}

/// <summary>
/// What a batch of contacts stitched as a set knows, read once and kept as the database would be after each contact's
/// outcomes: the identifier index, the customers' creation times and identifiers, pairs split apart, and each contact's
/// other events (attributed, or held as ambiguous). <see cref="For"/> gives one contact its <see cref="StitchState"/>;
/// <see cref="Evolve"/> takes in its outcomes, as the statements <c>Stitcher.Record</c> writes for them do.
/// </summary>
public sealed class StitchSetState
{
    public sealed record ContactKey(string Tenant, string Source, string ContactId);

    public sealed class Customer(DateTimeOffset createdAt)
    {
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public List<(string Type, string Value)> Identifiers { get; } = [];
    }

    /// <summary>The transaction's now(): the creation time of a customer created in it.</summary>
    public DateTimeOffset Now { get; set; }

    public Dictionary<(string Tenant, string Type, string Value), IdentifierState> Index { get; } = [];
    public Dictionary<Guid, Customer> Customers { get; } = [];
    public HashSet<(Guid, Guid)> Distinct { get; } = [];

    /// <summary>The customers' stream versions as the transaction read them.</summary>
    public Dictionary<Guid, long> Versions { get; } = [];

    /// <summary>Contacts already stitched, in the database or earlier in the batch: what stitching them again answers.</summary>
    public Dictionary<Guid, Attribution> Stitched { get; } = [];

    /// <summary>Per contact (source and contact id), its events attributed: event id to customer.</summary>
    public Dictionary<ContactKey, Dictionary<Guid, Guid>> Attributed { get; } = [];

    /// <summary>Per contact, its events held as ambiguous: event id to the event as it arrived and its candidates.</summary>
    public Dictionary<ContactKey, Dictionary<Guid, (ContactEventReceived Event, Guid[] Candidates)>> Held { get; } = [];

    public static ContactKey KeyOf(ContactEventReceived contact) => new(contact.TenantId, contact.Source, contact.ContactId);

    public Dictionary<Guid, Guid> AttributedOf(ContactKey key) => Attributed.TryGetValue(key, out var map) ? map : Attributed[key] = [];

    public Dictionary<Guid, (ContactEventReceived Event, Guid[] Candidates)> HeldOf(ContactKey key) => Held.TryGetValue(key, out var map) ? map : Held[key] = [];

    public static IEnumerable<Guid> CustomersOf(IdentifierState state) => state switch
    {
        IdentifierState.Linked(var id) => [id],
        IdentifierState.Shared(var ids) => ids,
        _ => [],
    };

    /// <summary>What this contact alone would have read at this point of the set, from this state.</summary>
    public StitchState For(ContactEventReceived contact, IReadOnlyList<IdentifierUse> uses)
    {
        var index = new Dictionary<(string, string), IdentifierState>();
        foreach (var use in uses.Where(u => u.Usable))
        {
            if (Index.TryGetValue((contact.TenantId, use.Type, use.Value), out var entry))
            {
                index[(use.Type, use.Value)] = entry;
            }
        }
        var touched = index.Values.SelectMany(CustomersOf).ToHashSet();
        var customers = touched.ToDictionary(id => id, id => new CustomerState(id, Customers[id].CreatedAt, [.. Customers[id].Identifiers]));
        var distinct = Distinct.Where(p => touched.Contains(p.Item1) && touched.Contains(p.Item2)).ToHashSet();
        var key = KeyOf(contact);
        var same = AttributedOf(key).Where(a => a.Key != contact.Id).Select(a => a.Value).ToHashSet();
        var siblings = HeldOf(key).Where(h => h.Key != contact.Id)
            .Select(h => new HeldSibling(h.Key, h.Value.Candidates, h.Value.Event.Channel, h.Value.Event.Kind, h.Value.Event.OccurredAt))
            .OrderBy(h => h.ContactEventId).ToList();
        return new StitchState(index, customers, distinct, same, siblings);
    }

    /// <summary>Takes in one contact's outcomes, in order, as their statements change the database.</summary>
    public void Evolve(ContactEventReceived contact, IReadOnlyList<StitchOutcome> outcomes, Attribution attribution)
    {
        var tenant = contact.TenantId;
        var key = KeyOf(contact);
        foreach (var outcome in outcomes)
        {
            switch (outcome)
            {
                case StitchOutcome.Created(var id, _):
                    Customers[id] = new Customer(Now);
                    break;
                case StitchOutcome.Linked(var id, var type, var value, _):
                    Index[(tenant, type, value)] = new IdentifierState.Linked(id);
                    Customers[id].Identifiers.Add((type, value));
                    break;
                case StitchOutcome.Merged(var survivor, var merged, _, _, _):
                    Merge(survivor, merged);
                    break;
                case StitchOutcome.Shared(var type, var value, var ids, _):
                    var before = Index.GetValueOrDefault((tenant, type, value));
                    if (before is IdentifierState.Linked(var holder))
                    {
                        Customers[holder].Identifiers.Remove((type, value));
                    }
                    Index[(tenant, type, value)] = new IdentifierState.Shared([.. (before is null ? [] : CustomersOf(before)).Union(ids).Distinct().Order()]);
                    break;
                case StitchOutcome.Attached(var id, _, _, _):
                    AttributedOf(key)[contact.Id] = id;
                    break;
                case StitchOutcome.HeldAmbiguous(var ids, _):
                    HeldOf(key)[contact.Id] = (contact with { Identifiers = [] }, [.. ids]);
                    break;
                case StitchOutcome.HeldResolved(var held, var id, _):
                    HeldOf(key).Remove(held.ContactEventId);
                    AttributedOf(key)[held.ContactEventId] = id;
                    Stitched[held.ContactEventId] = new Attribution(id, false, [], []);
                    break;
            }
        }
        Stitched[contact.Id] = attribution.CustomerId is { } customer
            ? new Attribution(customer, false, [], [])
            : new Attribution(null, false, [], attribution.Candidates);
    }

    /// <summary>What a merge's statements move to the survivor: identifiers, shares, attributed and held events, split pairs.</summary>
    private void Merge(Guid survivor, Guid merged)
    {
        Guid Moved(Guid id) => id == merged ? survivor : id;
        foreach (var (key, entry) in Index.ToList())
        {
            Index[key] = entry switch
            {
                IdentifierState.Linked(var id) when id == merged => new IdentifierState.Linked(survivor),
                IdentifierState.Shared(var ids) when ids.Contains(merged) => new IdentifierState.Shared([.. ids.Select(Moved).Distinct().Order()]),
                _ => entry,
            };
        }
        Customers[survivor].Identifiers.AddRange(Customers[merged].Identifiers);
        Customers[merged].Identifiers.Clear();
        foreach (var (a, b) in Distinct.ToList())
        {
            if (a == merged)
            {
                Distinct.Add((survivor, b));
                Distinct.Add((b, survivor));
            }
        }
        foreach (var events in Attributed.Values)
        {
            foreach (var (id, customer) in events.ToList())
            {
                events[id] = Moved(customer);
            }
        }
        foreach (var events in Held.Values)
        {
            foreach (var (id, held) in events.ToList())
            {
                events[id] = (held.Event, [.. held.Candidates.Select(Moved).Distinct()]);
            }
        }
        foreach (var (id, earlier) in Stitched.ToList())
        {
            if (earlier.CustomerId == merged)
            {
                Stitched[id] = earlier with { CustomerId = survivor };
            }
        }
    }
}
