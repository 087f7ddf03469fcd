using System.Diagnostics;
using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Effort.Scoring;

/// <summary>
/// Folds each attributed event into its customer's snapshot (the events of the open window), re-scores the journeys and
/// publishes the customer's score at the snapshot's new version. Saves check the version, so two instances scoring the
/// same customer cannot both win from a stale read: the loser retries on fresh state. The work per event depends on the
/// open window only, never on how many contacts the customer has had. Merges fold the merged snapshots into the
/// survivor, whichever order the messages arrive in.
/// </summary>
public sealed class ContactAttributedBatchConsumer(Database database, EffortStore store)
    : BatchConsumer<ContactAttributedBatch, ContactAttributed>(database, PipelineTopology.EffortContactAttributed)
{
    protected override IReadOnlyList<BatchItem<ContactAttributed>>? ItemsOf(ContactAttributedBatch batch) => batch.Items;

    protected override ContactAttributedBatch Alone(BatchItem<ContactAttributed> item) => new(item.MessageId, [item]);

    protected override Task Handle(Session session, ContactAttributed contact, CancellationToken ct) =>
        ContactAttributedConsumer.Score(session, store, contact, ct);

    protected override bool DecidesSets => true;

    /// <summary>The whole batch: one load of every customer it names, the fold per item, one write per table, each score in its contact's trace.</summary>
    protected override Task HandleSet(Session session, IReadOnlyList<(ContactAttributed Message, Activity? Span)> items, CancellationToken ct) =>
        ScoreSet(session, store, items, ct);

    /// <summary>The whole step for a set of contacts, in the caller's transaction (also what the cost bench times).</summary>
    public static async Task ScoreSet(Session session, EffortStore store, IReadOnlyList<(ContactAttributed Message, Activity? Span)> items,
        CancellationToken ct)
    {
        var contacts = items.Select(i => i.Message).ToList();
        var decision = EffortBatch.Decide(await store.LoadBatch(session, contacts, ct), contacts);
        await EffortStore.SaveBatch(session, decision, ct);
        foreach (var (item, scored) in decision.Scores)
        {
            session.Publish(scored, scored.Id, items[item].Span);
        }
    }
}

public sealed class ContactAttributedBatchConsumerDefinition()
    : ContactsConsumerDefinition<ContactAttributedBatchConsumer>(PipelineTopology.EffortContactAttributed, concurrentMessageLimit: 4);

/// <summary>An attributed contact that came alone: from a writer of the shape before batches, during a rolling upgrade.</summary>
public sealed class ContactAttributedConsumer(Database database, EffortStore store) : IConsumer<ContactAttributed>
{
    public Task Consume(ConsumeContext<ContactAttributed> context) =>
        database.HandleOnceTogether(context, PipelineTopology.EffortContactAttributed, session => Score(session, store, context.Message, context.CancellationToken));

    /// <summary>The whole per-event step, in the caller's transaction (also what the cost bench times).</summary>
    public static async Task Score(Session session, EffortStore store, ContactAttributed contact, CancellationToken ct)
    {
        var (erased, settings, customerId, survivor) = await store.ReadForScoring(session, contact.TenantId, contact.CustomerId, ct);
        if (erased)
        {
            return; // the customer was forgotten; a late contact must not bring them back
        }
        var events = new List<ContactEvent>(survivor?.Events ?? []);
        var changed = false;
        foreach (var mergedId in contact.MergedCustomerIds.Where(id => id != customerId).Distinct())
        {
            var merged = await EffortStore.Load(session, mergedId, ct);
            if (merged?.MergedInto is not null)
            {
                continue;
            }
            await EffortStore.MarkMerged(session, contact.TenantId, mergedId, merged, customerId, ct);
            await EffortStore.MoveEvents(session, contact.TenantId, mergedId, customerId, ct);
            events.AddRange(merged?.Events ?? []);
            changed = true;
        }

        // Every event a snapshot holds is stored (received events are, merged ones were moved), so one already in the
        // snapshot is a redelivery; any other is stored with the save, in its round trip.
        var received = ContactEvent.From(contact);
        if (events.All(e => e.EventId != received.EventId))
        {
            events.Add(received);
            changed = true;
        }
        if (!changed)
        {
            return;
        }
        events = [.. events.DistinctBy(e => e.EventId)];
        var evaluation = CustomerEffort.Evaluate(events, settings, CustomerEffort.LatestOf(events));
        var saved = await EffortStore.Save(session, contact.TenantId, customerId, survivor?.Version, evaluation,
            CustomerEffort.Retain(evaluation), contact.ContactEventId, allJourneys: false, ct, received);
        var scored = EffortStore.Scored(contact.TenantId, customerId, contact.ContactEventId, saved, evaluation);
        session.Publish(scored, scored.Id);
    }
}

public sealed class ContactAttributedConsumerDefinition()
    : ContactsConsumerDefinition<ContactAttributedConsumer>(PipelineTopology.EffortContactAttributed);
