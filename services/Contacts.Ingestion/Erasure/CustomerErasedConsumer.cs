using Contacts.Contracts;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Ingestion.Erasure;

/// <summary>Right to erasure: forgets ingestion's stored copies (received_events, outbox) of an erased customer's contact events, exactly once (inbox).</summary>
public sealed class CustomerErasedConsumer(Database database, ErasureSweep sweep) : IConsumer<CustomerErased>
{
    public Task Consume(ConsumeContext<CustomerErased> context) =>
        database.HandleOnce(context, PipelineTopology.IngestionCustomerErased, async session =>
        {
            var erased = context.Message;
            if (erased.ContactEventIds is null || string.IsNullOrWhiteSpace(erased.TenantId))
            {
                throw new InvalidMessageException($"CustomerErased {erased.Id} lacks a tenant or its contact event ids");
            }
            // The stored event and the outbox's copy of ContactEventReceived both hold the identifiers; ingestion consumes no
            // pipeline queue, so it has no dead letters of its own to sweep.
            await session.Execute("delete from received_events where tenant_id = @tenant and event_id = any(@ids)",
                new { tenant = erased.TenantId, ids = erased.ContactEventIds.ToArray() }, context.CancellationToken);
            await sweep.ForgetCopies(session, erased, [], context.CancellationToken);
        });
}

public sealed class CustomerErasedConsumerDefinition()
    : ContactsConsumerDefinition<CustomerErasedConsumer>(PipelineTopology.IngestionCustomerErased);
