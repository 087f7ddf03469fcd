using Contacts.Contracts;

namespace Contacts.Effort.Scoring;

public sealed record ScoredContact(Guid ContactEventId, string Channel, DateTimeOffset OccurredAt);

/// <summary>
/// Weights start from the published effect sizes (CEB/Gartner, "The Effortless Experience"): a repeat contact raises
/// disloyalty about 2.5x, so it weighs most; each channel switch costs about 10% of loyalty. First-contact resolution
/// is judged over a 7-day repeat window.
/// </summary>
public sealed class EffortWeights
{
    public int RepeatContactPoints { get; set; } = 20;
    public int RepeatContactCap { get; set; } = 60;
    public int ChannelSwitchPoints { get; set; } = 15;
    public int ChannelSwitchCap { get; set; } = 45;
    public TimeSpan Window { get; set; } = TimeSpan.FromDays(7);
}

public sealed record JourneyScore(int Score, int ContactsInWindow, int ChannelsInWindow, IReadOnlyList<EffortDriver> Drivers,
    DateTimeOffset WindowStart, DateTimeOffset WindowEnd);

/// <summary>Scores a journey 0-100 from its contacts, explaining each point. Pure: same contacts, same score, in any order.</summary>
public static class JourneyScorer
{
    public static JourneyScore Score(IReadOnlyCollection<ScoredContact> contacts, EffortWeights weights)
    {
        if (contacts.Count == 0)
        {
            return new JourneyScore(0, 0, 0, [], DateTimeOffset.MinValue, DateTimeOffset.MinValue);
        }
        // The window ends at the latest contact, not at the wall clock, so a replay scores exactly as the original run.
        var end = contacts.Max(c => c.OccurredAt);
        var start = end - weights.Window;
        var inWindow = contacts
            .Where(c => c.OccurredAt >= start)
            .DistinctBy(c => c.ContactEventId)
            .OrderBy(c => c.OccurredAt).ThenBy(c => c.ContactEventId)
            .ToList();

        var drivers = new List<EffortDriver>();
        var repeats = inWindow.Count - 1;
        if (repeats > 0)
        {
            drivers.Add(new EffortDriver("repeat_contacts", Math.Min(repeats * weights.RepeatContactPoints, weights.RepeatContactCap),
                $"{inWindow.Count} contacts within {weights.Window.TotalDays:0.#} days"));
        }
        var path = inWindow.Select(c => c.Channel).ToList();
        var switches = path.Zip(path.Skip(1)).Count(p => p.First != p.Second);
        if (switches > 0)
        {
            drivers.Add(new EffortDriver("channel_switches", Math.Min(switches * weights.ChannelSwitchPoints, weights.ChannelSwitchCap),
                $"{switches} channel switch{(switches == 1 ? "" : "es")}: {string.Join(" -> ", path)}"));
        }
        var score = Math.Clamp(drivers.Sum(d => d.Points), 0, 100);
        return new JourneyScore(score, inWindow.Count, path.Distinct().Count(), drivers, start, end);
    }
}
