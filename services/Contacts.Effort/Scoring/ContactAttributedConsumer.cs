using System.Text.Json;
using Contacts.Contracts;
using Contacts.ServiceDefaults.EventStore;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace Contacts.Effort.Scoring;

/// <summary>
/// Counts each attributed contact into the customer's journey stream and publishes the new score. Every append checks
/// the stream version, so two instances scoring the same customer cannot both score from a stale read: the loser
/// retries. Merges fold the merged journeys into the survivor, whichever order the messages arrive in.
/// </summary>
public sealed class ContactAttributedConsumer(Database database, IOptions<EffortWeights> weights) : IConsumer<ContactAttributed>
{
    public Task Consume(ConsumeContext<ContactAttributed> context) =>
        database.HandleOnce(context, PipelineTopology.EffortContactAttributed, async session =>
        {
            var contact = context.Message;
            var ct = context.CancellationToken;
            var events = session.Events;

            var customerId = await Survivor(events, contact.CustomerId, ct);
            var journey = await events.AggregateStream<CustomerJourney>(customerId, ct);
            var absorbed = new List<object>();
            foreach (var mergedId in contact.MergedCustomerIds.Where(id => id != customerId))
            {
                absorbed.AddRange(await FoldInto(session, mergedId, customerId, contact.TenantId, ct));
            }
            var counted = new ContactCounted(contact.ContactEventId, contact.Channel, contact.Kind, contact.OccurredAt);
            List<object> appended = journey?.Counts(contact.ContactEventId) == true ? absorbed : [.. absorbed, counted];
            if (appended.Count == 0)
            {
                return;
            }
            if (journey is null)
            {
                await events.StartStream<CustomerJourney>(customerId, contact.TenantId, appended, ct);
                journey = new CustomerJourney { Id = customerId };
            }
            else
            {
                await events.Append(customerId, journey.Version, appended, ct);
            }
            foreach (var e in appended)
            {
                Aggregator<CustomerJourney>.Apply(journey, e);
            }

            var score = JourneyScorer.Score([.. journey.Scored], weights.Value);
            await SaveLatest(session, customerId, contact, score, ct);
            var scored = new EffortScored(Guid.CreateVersion7(), contact.TenantId, customerId, contact.ContactEventId, score.Score,
                score.ContactsInWindow, score.ChannelsInWindow, score.Drivers, score.WindowStart, score.WindowEnd);
            session.Publish(scored, scored.Id);
        });

    /// <summary>Follows merges recorded in the effort streams, so a contact for a merged customer counts for the survivor.</summary>
    private static async Task<Guid> Survivor(EventStoreSession events, Guid customerId, CancellationToken ct)
    {
        for (var hops = 0; hops < 100; hops++)
        {
            var journey = await events.AggregateStream<CustomerJourney>(customerId, ct);
            if (journey?.MergedInto is not { } next)
            {
                return customerId;
            }
            customerId = next;
        }
        throw new InvalidOperationException($"merge chain from {customerId} is too long");
    }

    /// <summary>Marks the merged journey as folded (creating it if its own contacts have not arrived yet) and returns what moves.</summary>
    private static async Task<IEnumerable<object>> FoldInto(Session session, Guid mergedId, Guid survivorId, string tenantId, CancellationToken ct)
    {
        var events = session.Events;
        var merged = await events.AggregateStream<CustomerJourney>(mergedId, ct);
        if (merged is null)
        {
            await events.StartStream<CustomerJourney>(mergedId, tenantId, [new JourneyMergedInto(survivorId)], ct);
            return [];
        }
        if (merged.MergedInto is not null)
        {
            return [];
        }
        await events.Append(mergedId, merged.Version, [new JourneyMergedInto(survivorId)], ct);
        await using (var forget = session.Command("delete from customer_effort where customer_id = @id"))
        {
            forget.Parameters.AddWithValue("id", mergedId);
            await forget.ExecuteNonQueryAsync(ct);
        }
        return merged.Contacts.Count == 0 ? [] : [new JourneyAbsorbed(mergedId, [.. merged.Contacts])];
    }

    private static async Task SaveLatest(Session session, Guid customerId, ContactAttributed contact, JourneyScore score, CancellationToken ct)
    {
        await using var cmd = session.Command("""
            insert into customer_effort (customer_id, tenant_id, score, contacts_in_window, channels_in_window, drivers, contact_event_id)
            values (@customer, @tenant, @score, @contacts, @channels, @drivers, @event)
            on conflict (customer_id) do update set score = excluded.score, contacts_in_window = excluded.contacts_in_window,
                channels_in_window = excluded.channels_in_window, drivers = excluded.drivers,
                contact_event_id = excluded.contact_event_id, scored_at = now()
            """);
        cmd.Parameters.AddWithValue("customer", customerId);
        cmd.Parameters.AddWithValue("tenant", contact.TenantId);
        cmd.Parameters.AddWithValue("score", score.Score);
        cmd.Parameters.AddWithValue("contacts", score.ContactsInWindow);
        cmd.Parameters.AddWithValue("channels", score.ChannelsInWindow);
        cmd.Parameters.AddWithValue("drivers", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(score.Drivers, JsonSerializerOptions.Web));
        cmd.Parameters.AddWithValue("event", contact.ContactEventId);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

public sealed class ContactAttributedConsumerDefinition()
    : ContactsConsumerDefinition<ContactAttributedConsumer>(PipelineTopology.EffortContactAttributed);
