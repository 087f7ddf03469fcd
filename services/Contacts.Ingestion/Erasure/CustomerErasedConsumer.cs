using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using MassTransit;

namespace Contacts.Ingestion.Erasure;

/// <summary>Right to erasure: forgets ingestion's stored copies (received_events, outbox) of an erased customer's contact events, exactly once (inbox).</summary>
public sealed class CustomerErasedConsumer(Database database) : IConsumer<CustomerErased>
{
    public Task Consume(ConsumeContext<CustomerErased> context) =>
        database.HandleOnce(context, PipelineTopology.IngestionCustomerErased, async session =>
        {
            var erased = context.Message;
            if (erased.ContactEventIds is null || string.IsNullOrWhiteSpace(erased.TenantId))
            {
                throw new InvalidMessageException($"CustomerErased {erased.Id} lacks a tenant or its contact event ids");
            }
            // The stored event and the outbox's copy of ContactEventReceived (the row id is the event id) both hold the identifiers.
            await using var cmd = session.Command("""
                delete from received_events where tenant_id = @tenant and event_id = any(@ids);
                delete from outbox where id = any(@ids);
                """);
            cmd.Parameters.AddWithValue("tenant", erased.TenantId);
            cmd.Parameters.AddWithValue("ids", erased.ContactEventIds.ToArray());
            await cmd.ExecuteNonQueryAsync(context.CancellationToken);
        });
}

public sealed class CustomerErasedConsumerDefinition()
    : ContactsConsumerDefinition<CustomerErasedConsumer>(PipelineTopology.IngestionCustomerErased);
