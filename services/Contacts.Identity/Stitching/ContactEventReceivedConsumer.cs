using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using MassTransit;

namespace Contacts.Identity.Stitching;

/// <summary>Stitches each accepted contact to a customer and tells effort (and anyone else) who it belongs to.</summary>
public sealed class ContactEventReceivedConsumer(Database database, Stitcher stitcher) : IConsumer<ContactEventReceived>
{
    public Task Consume(ConsumeContext<ContactEventReceived> context) =>
        database.HandleOnce(context, PipelineTopology.IdentityContactEvents, async session =>
        {
            var contact = context.Message;
            var attribution = await stitcher.Attribute(session, contact, context.CancellationToken);
            if (attribution.MergedIds.Count > 0)
            {
                var merged = new CustomersMerged(Guid.CreateVersion7(), contact.TenantId, attribution.CustomerId,
                    attribution.MergedIds, contact.Id, DateTimeOffset.UtcNow);
                session.Publish(merged, merged.Id);
            }
            var attributed = new ContactAttributed(Guid.CreateVersion7(), contact.TenantId, contact.Id, attribution.CustomerId,
                contact.Channel, contact.Kind, contact.OccurredAt, attribution.IsNewCustomer, attribution.MergedIds);
            session.Publish(attributed, attributed.Id);
        });
}

public sealed class ContactEventReceivedConsumerDefinition()
    : ContactsConsumerDefinition<ContactEventReceivedConsumer>(PipelineTopology.IdentityContactEvents);
