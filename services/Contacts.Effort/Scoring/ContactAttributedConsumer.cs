using System.Diagnostics;
using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;

namespace Contacts.Effort.Scoring;

/// <summary>
/// Folds each attributed event into its customer's snapshot (the events of the open window), appends it to the customer's
/// stream, re-scores the journeys and publishes the customer's score at the snapshot's new version. Saves check the
/// snapshot's and the stream's versions, so two instances scoring the same customer cannot both win from a stale read:
/// the loser retries on fresh state. The work per event depends on the open window only, never on how many contacts the
/// customer has had. Merges fold the merged snapshots into the survivor, whichever order the messages arrive in.
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

    /// <summary>The whole step for one contact, in the caller's transaction: a set of one, decided as a batch's are.</summary>
    public static Task Score(Session session, EffortStore store, ContactAttributed contact, CancellationToken ct) =>
        ContactAttributedBatchConsumer.ScoreSet(session, store, [(contact, Activity.Current)], ct);
}

public sealed class ContactAttributedConsumerDefinition()
    : ContactsConsumerDefinition<ContactAttributedConsumer>(PipelineTopology.EffortContactAttributed);
