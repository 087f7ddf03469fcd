using System.Globalization;
using Contacts.Contracts;

namespace Contacts.Effort.Journeys;

/// <summary>
/// A journey's effort, 0 (effortless) to 100. Predicted comes from the drivers alone; Score also counts a low CES answer,
/// the customer's own word, so calibration can compare the prediction with the answers without circularity.
/// </summary>
public sealed record JourneyScore(int Score, int Predicted, IReadOnlyList<EffortDriver> Drivers, int? CesScore);

public static class Drivers
{
    public const string RepeatContact = "repeat_contact";
    public const string ChannelSwitch = "channel_switch";
    public const string Transfer = "transfer";
    public const string LongHold = "long_hold";
    public const string LongQueueWait = "long_queue_wait";
    public const string Abandoned = "abandoned";
    public const string NoLiveAnswer = "no_live_answer";
    public const string LowCes = "low_ces";
}

/// <summary>Scores one journey from its contacts, explaining each point with the contacts that showed it and the measured value.</summary>
public static class JourneyScorer
{
    public static JourneyScore Score(Journey journey, EffortSettings settings)
    {
        var w = settings.Weights;
        var t = settings.Thresholds;
        var contacts = journey.Interactions.ToList();
        var inbound = contacts.Where(c => c.Inbound).ToList();
        var drivers = new List<EffortDriver>();

        void Add(string name, int count, int weight, IEnumerable<Contact> evidence, double value, string text)
        {
            if (count > 0 && weight > 0)
            {
                drivers.Add(new EffortDriver(name, Math.Min(count * weight, 3 * weight), text, [.. evidence.Select(c => c.Key).Distinct()], value));
            }
        }

        var repeats = inbound.Skip(1).ToList();
        Add(Drivers.RepeatContact, repeats.Count, w.RepeatContact, repeats, repeats.Count,
            $"{inbound.Count} contacts about one issue within {settings.WindowDays} days");

        var switchedTo = inbound.Zip(inbound.Skip(1)).Where(p => p.First.Channel != p.Second.Channel).Select(p => p.Second).ToList();
        Add(Drivers.ChannelSwitch, switchedTo.Count, w.ChannelSwitch, switchedTo, switchedTo.Count,
            $"{switchedTo.Count} channel switch{(switchedTo.Count == 1 ? "" : "es")}: {string.Join(" -> ", inbound.Select(c => c.Channel))}");

        var transferred = contacts.Where(c => c.Transfers > 0).ToList();
        var transfers = transferred.Sum(c => c.Transfers);
        Add(Drivers.Transfer, transfers, w.Transfer, transferred, transfers, $"{transfers} transfer{(transfers == 1 ? "" : "s")}");

        var held = contacts.Where(c => c.HoldSeconds > t.HoldSeconds).ToList();
        Add(Drivers.LongHold, held.Count, w.LongHold, held, held.Select(c => c.HoldSeconds).DefaultIfEmpty().Max(),
            $"{held.Count} contact{(held.Count == 1 ? "" : "s")} on hold over {t.HoldSeconds} s (longest {Seconds(held.Select(c => c.HoldSeconds))} s)");

        var queued = contacts.Where(c => c.QueueWaitSeconds > t.QueueWaitSeconds).ToList();
        Add(Drivers.LongQueueWait, queued.Count, w.LongQueueWait, queued, queued.Select(c => c.QueueWaitSeconds).DefaultIfEmpty().Max(),
            $"{queued.Count} contact{(queued.Count == 1 ? "" : "s")} waiting over {t.QueueWaitSeconds} s to be answered (longest {Seconds(queued.Select(c => c.QueueWaitSeconds))} s)");

        var abandoned = contacts.Where(c => c.Abandoned).ToList();
        Add(Drivers.Abandoned, abandoned.Count, w.Abandoned, abandoned, abandoned.Count,
            $"the customer gave up {abandoned.Count} time{(abandoned.Count == 1 ? "" : "s")}");

        // A voicemail, or an outbound callback after the customer's own contact, means they did not get a live answer.
        var notLive = contacts.Where((c, i) => c.Voicemail || (!c.Inbound && contacts.Take(i).Any(p => p.Inbound))).ToList();
        Add(Drivers.NoLiveAnswer, notLive.Count, w.NoLiveAnswer, notLive, notLive.Count,
            $"{notLive.Count} voicemail or callback instead of a live answer");

        var predicted = Math.Clamp(drivers.Sum(d => d.Points), 0, 100);
        var answered = journey.Contacts.Where(c => c.CesScore is not null).MaxBy(c => c.CesAnsweredAt);
        if (answered?.CesScore is { } ces and >= 1 and <= 3 && w.LowCes > 0)
        {
            drivers.Add(new EffortDriver(Drivers.LowCes, (4 - ces) * w.LowCes, $"the customer answered CES {ces} of 7 (1-3 is high effort)",
                [answered.Key], ces));
        }
        return new JourneyScore(Math.Clamp(drivers.Sum(d => d.Points), 0, 100), predicted, drivers, answered?.CesScore);
    }

    private static string Seconds(IEnumerable<double> values) =>
        values.DefaultIfEmpty().Max().ToString("0.#", CultureInfo.InvariantCulture);
}
