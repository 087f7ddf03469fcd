using Contacts.Contracts;
using Contacts.Messaging;
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
            // Where every contact of both sides is held now (the restored customer's streams may still be under the survivor's).
            var streams = await EffortStore.Streams(session.Connection, session.Transaction, [(tenant, survivor), (tenant, restored)],
                survivorsOnly: false, ct);
            var located = streams.Values.SelectMany(s => s).DistinctBy(s => s.Key)
                .SelectMany(s => ContactStream.Held(s.Value).Select(contact => (s.Key, contact))).ToList();
            var restoredSide = streams.TryGetValue(restored, out var under) ? under.Keys.Append(restored).ToHashSet() : [restored];
            var plan = ContactStream.Split(survivor, restored, located, restoredSide, split.CustomerContactEventIds, split.RestoredContactEventIds);

            await session.Execute("update customer_effort set merged_into = null where customer_id = @id and tenant_id = @tenant",
                new { id = restored, tenant }, ct);
            // A side with neither a stream nor contacts gets no stream: effort knows nothing of it.
            var versions = (await session.Query<(Guid Id, long Version)>("select id, version from mt_streams where tenant_id = @tenant and id = any(@ids)",
                new { tenant, ids = plan.Appends.Keys.ToArray() }, ct)).ToDictionary(v => v.Id, v => v.Version);
            foreach (var (stream, events) in plan.Appends)
            {
                var version = versions.TryGetValue(stream, out var found) ? found : (long?)null;
                if (version is not null || events.Any(e => e is ContactMovedIn))
                {
                    session.Events.AppendOrStartAtCommit<CustomerContacts>(stream, tenant, version, events);
                }
            }
            var settings = await store.Settings(session.Connection, session.Transaction, tenant, ct);
            await EffortStore.Rebuild(session, tenant, survivor, settings, ct, split, plan.Survivor);
            await EffortStore.Rebuild(session, tenant, restored, settings, ct, split, plan.Restored);
        });
}

/// <summary>
/// Forgets a customer, the customers once merged into it and the listed contact events: snapshots, journeys, scores,
/// their streams (a listed contact held in another customer's stream is left there as its id alone), effort's outbox
/// rows about them and their dead letters in the queues effort consumes.
/// </summary>
public sealed class CustomerErasedConsumer(Database database, ErasureSweep sweep) : IConsumer<CustomerErased>
{
    public Task Consume(ConsumeContext<CustomerErased> context) =>
        database.HandleOnce(context, PipelineTopology.EffortCustomerErased, async session =>
        {
            var erased = context.Message;
            var named = erased.FormerCustomerIds.Append(erased.CustomerId).Distinct().ToArray();
            // With the customers effort merged under them, whose streams hold contacts of theirs.
            var ids = (await session.Query<Guid>("""
                with recursive family(id) as (
                    select unnest(@named)
                    union
                    select c.customer_id from customer_effort c join family f on c.merged_into = f.id where c.tenant_id = @tenant)
                select id from family
                """, new { named, tenant = erased.TenantId }, context.CancellationToken)).ToArray();
            await session.Execute("""
                delete from customer_effort where tenant_id = @tenant and customer_id = any(@ids);
                delete from journeys where tenant_id = @tenant and customer_id = any(@ids);
                delete from mt_events where tenant_id = @tenant and stream_id = any(@ids);
                delete from mt_streams where tenant_id = @tenant and id = any(@ids);
                update mt_events set type = @erasedType, mt_dotnet_type = @erasedClass,
                    data = jsonb_build_object('contactEventId', data -> 'contact' -> 'eventId')
                where tenant_id = @tenant and type = any(@held) and (data -> 'contact' ->> 'eventId')::uuid = any(@events);
                delete from moment_watch where tenant_id = @tenant and customer_id = any(@ids);
                delete from moment_announced where tenant_id = @tenant and customer_id = any(@ids);
                delete from ledger_state where tenant_id = @tenant and customer_id = any(@ids);
                insert into erased_customers (customer_id, tenant_id) select unnest(@ids), @tenant on conflict do nothing;
                """, new
            {
                tenant = erased.TenantId, ids, events = erased.ContactEventIds.ToArray(),
                erasedType = ContactStream.StoredName(typeof(ContactErased)), erasedClass = ContactStream.ClassName(typeof(ContactErased)),
                held = new[] { ContactStream.StoredName(typeof(ContactReceived)), ContactStream.StoredName(typeof(ContactMovedIn)) },
            }, context.CancellationToken);
            await sweep.ForgetCopies(session, erased, [PipelineTopology.EffortContactAttributed, PipelineTopology.EffortCustomerSplit],
                context.CancellationToken);
        });
}

public sealed class CustomerSplitConsumerDefinition() : ContactsConsumerDefinition<CustomerSplitConsumer>(PipelineTopology.EffortCustomerSplit);

public sealed class CustomerErasedConsumerDefinition() : ContactsConsumerDefinition<CustomerErasedConsumer>(PipelineTopology.EffortCustomerErased);
