using System.Text.Json;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace Contacts.Effort.Scoring;

/// <summary>
/// Counts each attributed contact into the customer's journey stream and publishes the new score. The append checks
/// the stream version, so two instances scoring the same customer cannot both score from a stale read: the loser retries.
/// </summary>
public sealed class ContactAttributedConsumer(Database database, IOptions<EffortWeights> weights) : IConsumer<ContactAttributed>
{
    public Task Consume(ConsumeContext<ContactAttributed> context) =>
        database.HandleOnce(context, PipelineTopology.EffortContactAttributed, async session =>
        {
            var contact = context.Message;
            var ct = context.CancellationToken;
            var journey = await session.Events.AggregateStream<CustomerJourney>(contact.CustomerId, ct);
            if (journey?.Contacts.Any(c => c.ContactEventId == contact.ContactEventId) == true)
            {
                return;
            }
            var counted = new ContactCounted(contact.ContactEventId, contact.Channel, contact.Kind, contact.OccurredAt);
            if (journey is null)
            {
                await session.Events.StartStream<CustomerJourney>(contact.CustomerId, contact.TenantId, [counted], ct);
                journey = new CustomerJourney { Id = contact.CustomerId };
            }
            else
            {
                await session.Events.Append(contact.CustomerId, journey.Version, [counted], ct);
            }
            journey.Apply(counted);

            var score = JourneyScorer.Score(journey.Contacts, weights.Value);
            var scored = new EffortScored(Guid.CreateVersion7(), contact.TenantId, contact.CustomerId, contact.ContactEventId, score.Score,
                score.ContactsInWindow, score.ChannelsInWindow, score.Drivers, score.WindowStart, score.WindowEnd);
            await using (var cmd = session.Command("""
                insert into customer_effort (customer_id, tenant_id, score, contacts_in_window, channels_in_window, drivers, contact_event_id)
                values (@customer, @tenant, @score, @contacts, @channels, @drivers, @event)
                on conflict (customer_id) do update set score = excluded.score, contacts_in_window = excluded.contacts_in_window,
                    channels_in_window = excluded.channels_in_window, drivers = excluded.drivers,
                    contact_event_id = excluded.contact_event_id, scored_at = now()
                """))
            {
                cmd.Parameters.AddWithValue("customer", contact.CustomerId);
                cmd.Parameters.AddWithValue("tenant", contact.TenantId);
                cmd.Parameters.AddWithValue("score", score.Score);
                cmd.Parameters.AddWithValue("contacts", score.ContactsInWindow);
                cmd.Parameters.AddWithValue("channels", score.ChannelsInWindow);
                cmd.Parameters.AddWithValue("drivers", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(score.Drivers));
                cmd.Parameters.AddWithValue("event", contact.ContactEventId);
                await cmd.ExecuteNonQueryAsync(ct);
            }
            session.Publish(scored, scored.Id);
        });
}

public sealed class ContactAttributedConsumerDefinition()
    : ContactsConsumerDefinition<ContactAttributedConsumer>(PipelineTopology.EffortContactAttributed);
