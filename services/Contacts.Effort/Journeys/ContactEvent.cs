using Contacts.Contracts;

namespace Contacts.Effort.Journeys;

/// <summary>One platform event of a contact as effort keeps it: the raw material contacts and journeys are folded from.</summary>
public sealed record ContactEvent(
    Guid EventId,
    string Source,
    string ContactId,
    string Channel,
    string Direction,
    string Kind,
    DateTimeOffset OccurredAt,
    string? Topic = null,
    string? InitialContactId = null,
    string? PreviousContactId = null,
    DateTimeOffset? StartedAt = null,
    DateTimeOffset? EndedAt = null,
    ContactMeasures? Measures = null,
    int? CesScore = null,
    string? Summary = null,
    string? Outcome = null,
    ContactPromise? Promise = null)
{
    public static ContactEvent From(ContactAttributed attributed) => attributed.Details is { } d
        ? new(attributed.ContactEventId, d.Source, d.ContactId, attributed.Channel, d.Direction, attributed.Kind, attributed.OccurredAt,
            d.Topic, d.InitialContactId, d.PreviousContactId, d.StartedAt, d.EndedAt, d.Measures, d.CesScore, d.Summary, d.Outcome, d.Promise)
        // Without details (an older identity) each event is its own contact, as before contacts were folded.
        : new(attributed.ContactEventId, "unknown", attributed.ContactEventId.ToString(), attributed.Channel, "inbound", attributed.Kind,
            attributed.OccurredAt);
}
