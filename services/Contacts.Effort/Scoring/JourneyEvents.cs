using Contacts.ServiceDefaults.EventStore;

namespace Contacts.Effort.Scoring;

/// <summary>A contact counted towards a customer's journey; scores are derived from these, so new weights can replay history.</summary>
public sealed record ContactCounted(Guid ContactEventId, string Channel, string Kind, DateTimeOffset OccurredAt);

/// <summary>Identity merged another customer into this one: their contacts now count here.</summary>
public sealed record JourneyAbsorbed(Guid FromCustomerId, IReadOnlyList<ContactCounted> Contacts);

/// <summary>This customer was merged into another; contacts that still arrive for it are counted there.</summary>
public sealed record JourneyMergedInto(Guid SurvivorId);

public static class JourneyEvents
{
    public static readonly Type[] Types = [typeof(ContactCounted), typeof(JourneyAbsorbed), typeof(JourneyMergedInto)];
}

/// <summary>A customer's contacts as the effort stream tells them.</summary>
public sealed class CustomerJourney : IAggregate
{
    public Guid Id { get; set; }
    public long Version { get; set; }
    public List<ContactCounted> Contacts { get; } = [];
    public Guid? MergedInto { get; private set; }

    public bool Counts(Guid contactEventId) => Contacts.Any(c => c.ContactEventId == contactEventId);

    public void Apply(ContactCounted e)
    {
        if (!Counts(e.ContactEventId))
        {
            Contacts.Add(e);
        }
    }

    public void Apply(JourneyAbsorbed e) => e.Contacts.ToList().ForEach(Apply);

    public void Apply(JourneyMergedInto e) => MergedInto = e.SurvivorId;

    public IEnumerable<ScoredContact> Scored => Contacts.Select(c => new ScoredContact(c.ContactEventId, c.Channel, c.OccurredAt));
}
