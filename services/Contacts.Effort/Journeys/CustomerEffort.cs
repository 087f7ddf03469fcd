namespace Contacts.Effort.Journeys;

public sealed record ScoredJourney(Journey Journey, JourneyScore Score, string Status)
{
    public bool IsOpen => Status == "open";
}

/// <summary>A customer's journeys scored at a moment: the customer's score is their worst open journey's.</summary>
public sealed record CustomerEvaluation(IReadOnlyList<ScoredJourney> Journeys, DateTimeOffset AsOf)
{
    public ScoredJourney? Worst => Journeys.Where(j => j.IsOpen).OrderByDescending(j => j.Score.Score).ThenByDescending(j => j.Journey.LastAt).FirstOrDefault();
    public int Score => Worst?.Score.Score ?? 0;
}

/// <summary>The pure core of effort: stored events in, contacts, journeys and scores out, and what to keep as the snapshot.</summary>
public static class CustomerEffort
{
    /// <summary>Closed journeys kept in the snapshot beside the open ones, for reads of recent history.</summary>
    public const int ClosedJourneysKept = 5;

    /// <summary>The latest moment the events know of: scoring against it (not the wall clock) makes a replay score as the original did.</summary>
    public static DateTimeOffset LatestOf(IEnumerable<ContactEvent> events) =>
        events.Select(e => e.EndedAt is { } end && end > e.OccurredAt ? end : e.OccurredAt).DefaultIfEmpty(DateTimeOffset.MinValue).Max();

    public static CustomerEvaluation Evaluate(IEnumerable<ContactEvent> events, EffortSettings settings, DateTimeOffset asOf)
    {
        var journeys = JourneyBuilder.Build(ContactFolder.Fold(events), settings.Window);
        return new CustomerEvaluation(
            [.. journeys.Select(j => new ScoredJourney(j, JourneyScorer.Score(j, settings), j.Status(asOf, settings.Window)))], asOf);
    }

    /// <summary>
    /// The open window as a snapshot: events of open journeys and of the last few closed ones. Older journeys can no longer
    /// change a score (their window has passed), so each new event costs the same however long the customer's history is.
    /// </summary>
    public static IReadOnlyList<ContactEvent> Retain(CustomerEvaluation evaluation)
    {
        var closed = evaluation.Journeys.Where(j => !j.IsOpen).OrderByDescending(j => j.Journey.LastAt).Take(ClosedJourneysKept);
        return
        [
            .. evaluation.Journeys.Where(j => j.IsOpen).Concat(closed)
                .SelectMany(j => j.Journey.Contacts).SelectMany(c => c.Events)
                .OrderBy(e => e.OccurredAt).ThenBy(e => e.EventId),
        ];
    }
}
