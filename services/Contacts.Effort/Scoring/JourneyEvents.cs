using Contacts.ServiceDefaults.EventStore;

namespace Contacts.Effort.Scoring;

/// <summary>A contact counted towards a customer's journey; scores are derived from these, so new weights can replay history.</summary>
public sealed record ContactCounted(Guid ContactEventId, string Channel, string Kind, DateTimeOffset OccurredAt);

public static class JourneyEvents
{
    public static readonly Type[] Types = [typeof(ContactCounted)];
}

/// <summary>A customer's contacts as the effort stream tells them.</summary>
public sealed class CustomerJourney : IAggregate
{
    public Guid Id { get; set; }
    public long Version { get; set; }
    public List<ScoredContact> Contacts { get; } = [];

    public void Apply(ContactCounted e) => Contacts.Add(new ScoredContact(e.ContactEventId, e.Channel, e.OccurredAt));
}
