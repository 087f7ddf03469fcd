using Contacts.Contracts;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Effort.Scoring;

/// <summary>
/// Identity undid a merge: each side takes back the contact events the message lists, and both are re-scored from their
/// stored events, each publishing its new score at a higher version with the split attached (a score may reach alerting
/// before the split does, and must not be decided as if the split had not happened).
/// </summary>
public sealed class CustomerSplitConsumer(Database database, EffortStore store) : IConsumer<CustomerSplit>
{
    public Task Consume(ConsumeContext<CustomerSplit> context) =>
        database.HandleOnce(context, PipelineTopology.EffortCustomerSplit, async session =>
        {
            var split = context.Message;
            var ct = context.CancellationToken;
            foreach (var (customer, eventIds) in new[] { (split.CustomerId, split.CustomerContactEventIds), (split.RestoredCustomerId, split.RestoredContactEventIds) })
            {
                await session.Execute("update contact_events set customer_id = @customer where tenant_id = @tenant and contact_event_id = any(@ids)",
                    new { customer, tenant = split.TenantId, ids = eventIds.ToArray() }, ct);
            }
            await session.Execute("update customer_effort set merged_into = null where customer_id = @id and tenant_id = @tenant",
                new { id = split.RestoredCustomerId, tenant = split.TenantId }, ct);
            var settings = await store.Settings(session.Connection, session.Transaction, split.TenantId, ct);
            await EffortStore.Rebuild(session, split.TenantId, split.CustomerId, settings, ct, split);
            await EffortStore.Rebuild(session, split.TenantId, split.RestoredCustomerId, settings, ct, split);
        });
}

/// <summary>
/// Forgets a customer, the customers once merged into it and the listed contact events: snapshots, journeys, scores,
/// stored events, effort's outbox rows about them and their dead letters in the queues effort consumes.
/// </summary>
public sealed class CustomerErasedConsumer(Database database, ErasureSweep sweep) : IConsumer<CustomerErased>
{
    public Task Consume(ConsumeContext<CustomerErased> context) =>
        database.HandleOnce(context, PipelineTopology.EffortCustomerErased, async session =>
        {
            var erased = context.Message;
            var ids = erased.FormerCustomerIds.Append(erased.CustomerId).Distinct().ToArray();
            await session.Execute("""
                delete from customer_effort where tenant_id = @tenant and customer_id = any(@ids);
                delete from journeys where tenant_id = @tenant and customer_id = any(@ids);
                delete from contact_events where tenant_id = @tenant and (customer_id = any(@ids) or contact_event_id = any(@events));
                delete from moment_watch where tenant_id = @tenant and customer_id = any(@ids);
                delete from moment_announced where tenant_id = @tenant and customer_id = any(@ids);
                delete from ledger_state where tenant_id = @tenant and customer_id = any(@ids);
                insert into erased_customers (customer_id, tenant_id) select unnest(@ids), @tenant on conflict do nothing;
                """, new { tenant = erased.TenantId, ids, events = erased.ContactEventIds.ToArray() }, context.CancellationToken);
            await sweep.ForgetCopies(session, erased, [PipelineTopology.EffortContactAttributed, PipelineTopology.EffortCustomerSplit],
                context.CancellationToken);
        });
}

public sealed class CustomerSplitConsumerDefinition() : ContactsConsumerDefinition<CustomerSplitConsumer>(PipelineTopology.EffortCustomerSplit);

public sealed class CustomerErasedConsumerDefinition() : ContactsConsumerDefinition<CustomerErasedConsumer>(PipelineTopology.EffortCustomerErased);
