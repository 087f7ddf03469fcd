using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using MassTransit;

namespace Contacts.Identity.Stitching;

/// <summary>Stitches each accepted contact to a customer and tells effort (and anyone else) who it belongs to.</summary>
public sealed class ContactEventReceivedConsumer(Database database, Stitcher stitcher) : IConsumer<ContactEventReceived>
{
    public Task Consume(ConsumeContext<ContactEventReceived> context) =>
        database.HandleOnceTogether(context, PipelineTopology.IdentityContactEvents, async session =>
        {
            var contact = context.Message;
            Validate(contact);
            var attribution = await stitcher.Attribute(session, contact, context.CancellationToken);
            if (attribution.CustomerId is not { } customerId)
            {
                return; // held as ambiguous: effort and alerting never see it (shown on the candidates' reads)
            }
            if (attribution.MergedIds.Count > 0)
            {
                var merged = new CustomersMerged(Guid.CreateVersion7(), contact.TenantId, customerId,
                    attribution.MergedIds, contact.Id, DateTimeOffset.UtcNow);
                session.Publish(merged, merged.Id);
            }
            var attributed = new ContactAttributed(Guid.CreateVersion7(), contact.TenantId, contact.Id, customerId,
                contact.Channel, contact.Kind, contact.OccurredAt, attribution.IsNewCustomer, attribution.MergedIds, DetailsOf(contact));
            session.Publish(attributed, attributed.Id);
        });

    public static ContactDetails DetailsOf(ContactEventReceived contact) =>
        new(contact.Source, contact.ContactId, contact.Direction, contact.Topic, contact.InitialContactId, contact.PreviousContactId,
            contact.StartedAt, contact.EndedAt, contact.Measures, contact.CesScore);

    /// <summary>Ingestion validates, but a queue can be written by others: refuse what would corrupt a customer.</summary>
    private static void Validate(ContactEventReceived contact)
    {
        if (contact.Id == Guid.Empty || string.IsNullOrWhiteSpace(contact.TenantId) || string.IsNullOrWhiteSpace(contact.Channel)
            || contact.Identifiers is null || contact.Identifiers.Any(i => string.IsNullOrWhiteSpace(i.Type) || string.IsNullOrWhiteSpace(i.Value)))
        {
            throw new InvalidMessageException($"ContactEventReceived {contact.Id} lacks an id, tenant, channel or well-formed identifiers");
        }
    }
}

public sealed class ContactEventReceivedConsumerDefinition()
    : ContactsConsumerDefinition<ContactEventReceivedConsumer>(PipelineTopology.IdentityContactEvents);
