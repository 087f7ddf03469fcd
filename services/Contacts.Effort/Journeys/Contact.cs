namespace Contacts.Effort.Journeys;

/// <summary>
/// One interaction, folded from every event that shares its source and contact id or transfer chain. Every property is a
/// function of the set of events, so the same events give the same contact whatever order they arrived in.
/// </summary>
public sealed class Contact
{
    public Contact(string source, IReadOnlyList<ContactEvent> events)
    {
        Source = source;
        Events = [.. events.OrderBy(e => e.OccurredAt).ThenBy(e => e.EventId)];
        var first = Events[0];
        var initial = Events.Select(e => e.InitialContactId).Where(i => !string.IsNullOrEmpty(i)).Order(StringComparer.Ordinal).FirstOrDefault();
        Legs = [.. Events.Select(e => e.ContactId).Distinct().Order(StringComparer.Ordinal)];
        Key = $"{source}:{initial ?? first.ContactId}";
        var live = Events.Where(e => e.Kind != "survey_answered").ToList();
        var main = live.Count > 0 ? live[0] : first;
        Channel = main.Channel;
        Channels = [.. live.Select(e => e.Channel).Distinct()];
        Direction = main.Direction;
        Topic = Events.Select(e => e.Topic).FirstOrDefault(t => !string.IsNullOrEmpty(t));
        IsSurveyOnly = live.Count == 0;
        StartedAt = Events.Min(e => e.StartedAt is { } s && s < e.OccurredAt ? s : e.OccurredAt);
        var ends = Events.Select(e => e.EndedAt ?? (e.Kind == "ended" ? e.OccurredAt : (DateTimeOffset?)null)).Where(e => e is not null).ToList();
        EndedAt = ends.Count > 0 ? ends.Max() : null;
        LastAt = new[] { Events.Max(e => e.OccurredAt), EndedAt ?? DateTimeOffset.MinValue }.Max();
        // Measures are per leg (one contact id of the chain): a leg's latest report wins, legs add up.
        var legs = Events.GroupBy(e => e.ContactId).ToList();
        HoldSeconds = legs.Sum(l => l.Max(e => e.Measures?.HoldSeconds ?? 0));
        QueueWaitSeconds = legs.Sum(l => l.Max(e => e.Measures?.QueueWaitSeconds ?? 0));
        Transfers = new[]
        {
            Legs.Count - 1,
            Events.Where(e => e.Kind == "transferred").Select(e => e.ContactId).Distinct().Count(),
            Events.Max(e => e.Measures?.Transfers ?? 0),
        }.Max();
        Abandoned = Events.Any(e => e.Measures?.Abandoned == true);
        Resolved = Events.Any(e => e.Measures?.Resolved == true);
        var survey = Events.LastOrDefault(e => e.CesScore is not null);
        CesScore = survey?.CesScore;
        CesAnsweredAt = survey?.OccurredAt;
        Voicemail = live.Any(e => e.Channel == "voicemail");
        // What was said and promised: the latest summary and outcome reported (a wrap-up is written after the contact's
        // first events), every distinct promise with the time of the event that made it.
        Summary = Events.LastOrDefault(e => !string.IsNullOrEmpty(e.Summary))?.Summary;
        Outcome = Events.LastOrDefault(e => e.Outcome is not null)?.Outcome;
        Promises = [.. Events.Where(e => e.Promise is not null).GroupBy(e => (e.Promise!.Kind, e.Promise.DueAt))
            .Select(g => new MadePromise(Key, g.Key.Kind, g.Key.DueAt, g.First().OccurredAt))];
    }

    public string Key { get; }
    public string Source { get; }
    public IReadOnlyList<string> Legs { get; }
    public IReadOnlyList<ContactEvent> Events { get; }
    public string Channel { get; }
    public IReadOnlyList<string> Channels { get; }
    public string Direction { get; }
    public string? Topic { get; }
    /// <summary>Only a survey answer arrived under this id: it carries a CES answer, it is not another contact.</summary>
    public bool IsSurveyOnly { get; }
    public DateTimeOffset StartedAt { get; }
    public DateTimeOffset? EndedAt { get; }
    public DateTimeOffset LastAt { get; }
    public double HoldSeconds { get; }
    public double QueueWaitSeconds { get; }
    public int Transfers { get; }
    public bool Abandoned { get; }
    public bool Resolved { get; }
    public int? CesScore { get; }
    public DateTimeOffset? CesAnsweredAt { get; }
    public bool Voicemail { get; }
    public bool Inbound => Direction != "outbound";
    public string? Summary { get; }
    public string? Outcome { get; }
    public IReadOnlyList<MadePromise> Promises { get; }
}

/// <summary>A promise made on a contact (its key), due by DueAt, made when the event carrying it occurred.</summary>
public sealed record MadePromise(string ContactKey, string Kind, DateTimeOffset DueAt, DateTimeOffset MadeAt);

public static class ContactFolder
{
    /// <summary>
    /// Groups events into contacts: same source and connected ids (contact id, initial and previous contact of a transfer
    /// chain). Connection is transitive, so a chain A -> B -> C is one contact even when B's events arrive last.
    /// </summary>
    public static IReadOnlyList<Contact> Fold(IEnumerable<ContactEvent> events)
    {
        var contacts = new List<Contact>();
        foreach (var bySource in events.DistinctBy(e => e.EventId).GroupBy(e => e.Source))
        {
            var parent = new Dictionary<string, string>(StringComparer.Ordinal);
            string Find(string id)
            {
                while (parent.TryGetValue(id, out var p) && p != id)
                {
                    id = p;
                }
                return id;
            }
            void Union(string a, string b)
            {
                parent.TryAdd(a, a);
                parent.TryAdd(b, b);
                var (ra, rb) = (Find(a), Find(b));
                if (ra != rb)
                {
                    // The smaller id becomes the root, so the grouping is the same in any order.
                    if (string.CompareOrdinal(ra, rb) < 0)
                    {
                        parent[rb] = ra;
                    }
                    else
                    {
                        parent[ra] = rb;
                    }
                }
            }
            foreach (var e in bySource)
            {
                Union(e.ContactId, e.ContactId);
                if (!string.IsNullOrEmpty(e.InitialContactId))
                {
                    Union(e.ContactId, e.InitialContactId);
                }
                if (!string.IsNullOrEmpty(e.PreviousContactId))
                {
                    Union(e.ContactId, e.PreviousContactId);
                }
            }
            contacts.AddRange(bySource.GroupBy(e => Find(e.ContactId)).Select(g => new Contact(bySource.Key, [.. g])));
        }
        return [.. contacts.OrderBy(c => c.StartedAt).ThenBy(c => c.Key, StringComparer.Ordinal)];
    }
}
