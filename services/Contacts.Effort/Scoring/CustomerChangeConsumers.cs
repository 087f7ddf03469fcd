using Contacts.Contracts;
using Contacts.Messaging;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Effort.Scoring;

/// <summary>
/// Identity undid a merge: the restored customer is no longer under the survivor, each side takes the contacts the
/// message lists for it (moved between their streams, <see cref="ContactStream.Split"/>), and both are re-scored from
/// their histories, each publishing its new score at a higher version with the split attached (a score may reach
/// alerting before the split does, and must not be decided as if the split had not happened).
/// </summary>
public sealed class CustomerSplitConsumer(Database database, EffortStore store) : IConsumer<CustomerSplit>
{
    public Task Consume(ConsumeContext<CustomerSplit> context) =>
        database.HandleOnce(context, PipelineTopology.EffortCustomerSplit, async session =>
        {
            var split = context.Message;
            var (ct, tenant, survivor, restored) = (context.CancellationToken, split.TenantId, split.CustomerId, split.RestoredCustomerId);
            // Where every contact of both sides is held now (the restored customer's streams may still be under the
            // survivor's), with each stream's version in the same statement: every stream this split builds on is
            // appended to at the version its contents were read at, so a contact that arrived meanwhile fails the split.
            var byRoot = await EffortStore.Streams(session.Connection, session.Transaction, [(tenant, survivor), (tenant, restored)],
                survivorsOnly: false, ct);
            var streams = byRoot.Values.SelectMany(s => s).DistinctBy(s => s.Key).ToDictionary();
            var located = streams.SelectMany(s => ContactStream.Held(s.Value.Events).Select(contact => (s.Key, contact))).ToList();
            var restoredSide = byRoot.GetValueOrDefault(restored)?.Keys.Append(restored).ToHashSet() ?? [restored];
            var plan = ContactStream.Split(survivor, restored, located, restoredSide, split.CustomerContactEventIds, split.RestoredContactEventIds);

            await session.Execute("update customer_effort set merged_into = null where customer_id = @id and tenant_id = @tenant",
                new { id = restored, tenant }, ct);
            foreach (var (stream, events) in plan.Appends)
            {
                session.Events.AppendOrStartAtCommit<CustomerContacts>(stream, tenant, streams.GetValueOrDefault(stream)?.Version, events);
            }
            var settings = await store.Settings(session.Connection, session.Transaction, tenant, ct);
            await EffortStore.Rebuild(session, tenant, survivor, settings, ct, split, plan.Survivor);
            await EffortStore.Rebuild(session, tenant, restored, settings, ct, split, plan.Restored);
        });
}

/// <summary>
/// Forgets a customer, the customers once merged into it and the listed contact events: snapshots, journeys, scores,
/// their streams (a contact of theirs a split took from another customer's stream is left there as its id alone, and that
/// stream records the erasure), effort's outbox rows about them and their dead letters in the queues effort consumes.
/// </summary>
public sealed class CustomerErasedConsumer(Database database, ErasureSweep sweep) : IConsumer<CustomerErased>
{
    public Task Consume(ConsumeContext<CustomerErased> context) =>
        database.HandleOnce(context, PipelineTopology.EffortCustomerErased, async session =>
        {
            var (erased, ct) = (context.Message, context.CancellationToken);
            var named = erased.FormerCustomerIds.Append(erased.CustomerId).Distinct().ToArray();
            // With the customers effort merged under them, whose streams hold contacts of theirs.
            var ids = (await session.Query<Guid>("""
                with recursive family(id) as (
                    select unnest(@named)
                    union
                    select c.customer_id from customer_effort c join family f on c.merged_into = f.id where c.tenant_id = @tenant)
                select id from family
                """, new { named, tenant = erased.TenantId }, ct)).ToArray();
            // A contact of theirs that a split moved into one of their streams is still in the stream it came from, moved out:
            // that event's data goes too (left as the contact's id alone), and that stream records the erasure at the version
            // read, so a writer that read the contact before this erasure fails and reads again.
            var listed = erased.ContactEventIds.ToHashSet();
            var family = await EffortStore.Streams(session.Connection, session.Transaction, [.. named.Select(id => (erased.TenantId, id))],
                survivorsOnly: false, ct);
            var cameFrom = family.Values.SelectMany(s => s.Values).SelectMany(s => s.Events).OfType<ContactMovedIn>()
                .Where(m => !ids.Contains(m.FromCustomerId)).Select(m => (Holder: m.FromCustomerId, Contact: m.Contact.EventId)).Distinct().ToList();
            var holders = (await session.Query<(Guid Id, long Version)>("select id, version from mt_streams where tenant_id = @tenant and id = any(@streams)",
                new { tenant = erased.TenantId, streams = cameFrom.Select(c => c.Holder).Distinct().ToArray() }, ct)).ToDictionary(h => h.Id, h => h.Version);
            foreach (var holder in cameFrom.Where(c => holders.ContainsKey(c.Holder)).GroupBy(c => c.Holder))
            {
                session.Events.AppendOrStartAtCommit<CustomerContacts>(holder.Key, erased.TenantId, holders[holder.Key],
                    [.. holder.Select(c => new ContactErased(c.Contact))]);
            }
            var events = listed.Concat(cameFrom.Select(c => c.Contact)).Select(id => id.ToString()).Distinct().ToArray();
            var streams = holders.Keys.ToArray();
            await session.Execute("""
                delete from customer_effort where tenant_id = @tenant and customer_id = any(@ids);
                delete from journeys where tenant_id = @tenant and customer_id = any(@ids);
                delete from mt_events where tenant_id = @tenant and stream_id = any(@ids);
                delete from mt_streams where tenant_id = @tenant and id = any(@ids);
                update mt_events e set type = @erasedType, mt_dotnet_type = @erasedClass,
                    data = jsonb_build_object('contactEventId', e.data -> 'contact' -> 'eventId')
                where e.tenant_id = @tenant and e.stream_id = any(@streams) and e.type = any(@held)
                    and (e.data -> 'contact' ->> 'eventId') = any(@events);
                delete from moment_watch where tenant_id = @tenant and customer_id = any(@ids);
                delete from moment_announced where tenant_id = @tenant and customer_id = any(@ids);
                delete from ledger_state where tenant_id = @tenant and customer_id = any(@ids);
                insert into erased_customers (customer_id, tenant_id) select unnest(@ids), @tenant on conflict do nothing;
                """, new
            {
                tenant = erased.TenantId, ids, events, streams,
                held = new[] { MartenEvents.TypeName(typeof(ContactReceived)), MartenEvents.TypeName(typeof(ContactMovedIn)) },
                erasedType = MartenEvents.TypeName(typeof(ContactErased)), erasedClass = MartenEvents.ClassName(typeof(ContactErased)),
            }, context.CancellationToken);
            await sweep.ForgetCopies(session, erased, [PipelineTopology.EffortContactAttributed, PipelineTopology.EffortCustomerSplit],
                context.CancellationToken);
        });
}

public sealed class CustomerSplitConsumerDefinition() : ContactsConsumerDefinition<CustomerSplitConsumer>(PipelineTopology.EffortCustomerSplit);

public sealed class CustomerErasedConsumerDefinition() : ContactsConsumerDefinition<CustomerErasedConsumer>(PipelineTopology.EffortCustomerErased);
