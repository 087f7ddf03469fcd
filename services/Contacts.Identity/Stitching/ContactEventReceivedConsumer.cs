using System.Diagnostics;
using Contacts.Contracts;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Identity.Stitching;

/// <summary>Stitches accepted contacts, many to a message, to customers and tells effort (and anyone else) who each belongs to.</summary>
public sealed class ContactEventReceivedBatchConsumer(Database database, Stitcher stitcher)
    : BatchConsumer<ContactEventReceivedBatch, ContactEventReceived>(database, PipelineTopology.IdentityContactEvents)
{
    protected override IReadOnlyList<BatchItem<ContactEventReceived>>? ItemsOf(ContactEventReceivedBatch batch) => batch.Items;

    protected override ContactEventReceivedBatch Alone(BatchItem<ContactEventReceived> item) => new(item.MessageId, [item]);

    protected override Task Handle(Session session, ContactEventReceived contact, CancellationToken ct) =>
        ContactEventReceivedConsumer.Stitch(session, stitcher, contact, ct);

    protected override bool DecidesSets => true;

    /// <summary>The batch stitched as a set (Stitcher.AttributeSet); each contact publishes whom it belongs to under its own span.</summary>
    protected override async Task HandleSet(Session session, IReadOnlyList<(ContactEventReceived Message, Activity? Span)> items, CancellationToken ct)
    {
        foreach (var (contact, _) in items)
        {
            ContactEventReceivedConsumer.Validate(contact);
        }
        await stitcher.AttributeSet(session, [.. items.Select(i => i.Message)], ct, [.. items.Select(i => i.Span)],
            (i, attribution) => ContactEventReceivedConsumer.Publish(session, items[i].Message, attribution));
    }
}

public sealed class ContactEventReceivedBatchConsumerDefinition()
    : ContactsConsumerDefinition<ContactEventReceivedBatchConsumer>(PipelineTopology.IdentityContactEvents, concurrentMessageLimit: 4);

/// <summary>A contact that came alone: from a writer of the shape before batches, still queued during a rolling upgrade.</summary>
public sealed class ContactEventReceivedConsumer(Database database, Stitcher stitcher) : IConsumer<ContactEventReceived>
{
    public Task Consume(ConsumeContext<ContactEventReceived> context) =>
        database.HandleOnceTogether(context, PipelineTopology.IdentityContactEvents,
            session => Stitch(session, stitcher, context.Message, context.CancellationToken));

    /// <summary>One contact's whole step, in the caller's transaction: stitch it, and publish whom it belongs to.</summary>
    public static async Task Stitch(Session session, Stitcher stitcher, ContactEventReceived contact, CancellationToken ct)
    {
        Validate(contact);
        Publish(session, contact, await stitcher.Attribute(session, contact, ct));
    }

    /// <summary>What a stitched contact tells the others, through the outbox of the caller's transaction, in the current span.</summary>
    public static void Publish(Session session, ContactEventReceived contact, Attribution attribution)
    {
        if (attribution.CustomerId is not { } customerId)
        {
            return; // held as ambiguous: effort and alerting never see it (shown on the candidates' reads)
        }
        if (attribution.MergedIds.Count > 0)
        {
            var merged = new CustomersMerged(Guid.CreateVersion7(), contact.TenantId, customerId,
                attribution.MergedIds, contact.Id, DateTimeOffset.UtcNow, attribution.MergedBy);
            session.Publish(merged, merged.Id);
        }
        var attributed = new ContactAttributed(Guid.CreateVersion7(), contact.TenantId, contact.Id, customerId,
            contact.Channel, contact.Kind, contact.OccurredAt, attribution.IsNewCustomer, attribution.MergedIds, DetailsOf(contact));
        session.Publish(attributed, attributed.Id);
        // Events of the same contact held as ambiguous until this one settled which customer it is.
        foreach (var held in attribution.ResolvedHeld ?? [])
        {
            var settled = new ContactAttributed(Guid.CreateVersion7(), held.TenantId, held.Id, customerId,
                held.Channel, held.Kind, held.OccurredAt, false, [], DetailsOf(held));
            session.Publish(settled, settled.Id);
        }
    }

    public static ContactDetails DetailsOf(ContactEventReceived contact) =>
        new(contact.Source, contact.ContactId, contact.Direction, contact.Topic, contact.InitialContactId, contact.PreviousContactId,
            contact.StartedAt, contact.EndedAt, contact.Measures, contact.CesScore, contact.Summary, contact.Outcome, contact.Promise);

    /// <summary>Ingestion validates, but a queue can be written by others: refuse what would corrupt a customer.</summary>
    public static void Validate(ContactEventReceived contact)
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
