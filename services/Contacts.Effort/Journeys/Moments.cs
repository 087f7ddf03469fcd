namespace Contacts.Effort.Journeys;

/// <summary>Shep Hyken's moments of truth: every contact is one of misery, mediocrity or magic.</summary>
public static class MomentKinds
{
    public const string Misery = "misery";
    public const string Mediocre = "mediocre";
    public const string Magic = "magic";
}

/// <summary>Why a contact was misery (the first four) or magic (the last two).</summary>
public static class MomentReasons
{
    public const string PromiseBroken = "promise_broken";
    public const string UnresolvedRepeat = "unresolved_repeat";
    public const string AbandonedAfterLongWait = "abandoned_after_long_wait";
    public const string Transferred = "transferred";
    public const string FirstContactResolution = "first_contact_resolution";
    public const string EasyCes = "easy_ces";
}

/// <summary>
/// One contact's moment: its kind, every reason for it, and when it was lived (the contact's last moment, or the due time
/// of a promise it made that broke, whichever is later).
/// </summary>
public sealed record Moment(string ContactKey, string Kind, IReadOnlyList<string> Reasons, DateTimeOffset At);

/// <summary>
/// The pure classifier of moments of truth. A function of the customer's contacts, the journey window and the moment
/// asked about (promises fall due by it), so the same events give the same moments in any arrival order, and a contact's
/// moment changes whenever one of its events, its survey answer or a contact that repeats it arrives.
/// Misery: a promise made on the contact that fell due with no outbound contact (kept late counts: it broke first), an
/// unresolved inbound contact within the repeat window of the customer's previous inbound contact, abandoned after a long
/// wait, or transferred the thresholds' number of times. Magic (only without misery): resolved as the one inbound contact
/// of its journey with no transfer and a short wait, or a CES answer of 6-7. Otherwise mediocre.
/// </summary>
public static class MomentJudge
{
    public static IReadOnlyList<Moment> Classify(IEnumerable<Contact> contacts, TimeSpan journeyWindow, MomentThresholds thresholds, DateTimeOffset asOf)
    {
        var all = contacts.ToList();
        return Classify(all, PromiseJudge.Judge(all, asOf), journeyWindow, thresholds);
    }

    /// <summary>The same, given the contacts' promises already judged at the moment asked about.</summary>
    public static IReadOnlyList<Moment> Classify(IReadOnlyList<Contact> all, IReadOnlyList<PromiseState> promises, TimeSpan journeyWindow,
        MomentThresholds thresholds)
    {
        var broken = promises
            .Where(p => p.Status is PromiseStatus.Overdue or PromiseStatus.KeptLate)
            .ToLookup(p => p.Promise.ContactKey, p => p.Promise.DueAt);
        // The inbound contacts of each contact's journey, counted once (a long history stays linear).
        var inboundInJourney = JourneyBuilder.Build(all, journeyWindow)
            .SelectMany(j => j.Contacts.Select(c => (c.Key, Inbound: j.Interactions.Count(i => i.Inbound)))).ToDictionary(x => x.Key, x => x.Inbound);
        var repeatWindow = TimeSpan.FromHours(thresholds.RepeatWithinHours);

        var moments = new List<Moment>();
        // The latest end of the inbound contacts before this one: a repeat is within the window of it.
        DateTimeOffset? previousInboundEnd = null;
        foreach (var contact in all.Where(c => !c.IsSurveyOnly).OrderBy(c => c.StartedAt).ThenBy(c => c.Key, StringComparer.Ordinal))
        {
            var misery = new List<string>();
            var at = contact.LastAt;
            if (broken[contact.Key].ToList() is { Count: > 0 } dues)
            {
                misery.Add(MomentReasons.PromiseBroken);
                at = new[] { at, dues.Min() }.Max();
            }
            if (contact.Inbound && !contact.Resolved && previousInboundEnd is { } end && contact.StartedAt - end <= repeatWindow)
            {
                misery.Add(MomentReasons.UnresolvedRepeat);
            }
            if (contact.Inbound)
            {
                previousInboundEnd = previousInboundEnd is { } before && before > contact.LastAt ? before : contact.LastAt;
            }
            if (contact.Abandoned && contact.QueueWaitSeconds >= thresholds.LongWaitSeconds)
            {
                misery.Add(MomentReasons.AbandonedAfterLongWait);
            }
            if (contact.Transfers >= thresholds.Transfers)
            {
                misery.Add(MomentReasons.Transferred);
            }
            if (misery.Count > 0)
            {
                moments.Add(new Moment(contact.Key, MomentKinds.Misery, misery, at));
                continue;
            }
            var magic = new List<string>();
            if (contact.Resolved && contact.Inbound && contact.Transfers == 0 && contact.QueueWaitSeconds <= thresholds.MagicMaxWaitSeconds
                && inboundInJourney[contact.Key] == 1)
            {
                magic.Add(MomentReasons.FirstContactResolution);
            }
            if (contact.CesScore >= thresholds.MagicCes)
            {
                magic.Add(MomentReasons.EasyCes);
            }
            moments.Add(magic.Count > 0
                ? new Moment(contact.Key, MomentKinds.Magic, magic, new[] { at, contact.CesAnsweredAt ?? at }.Max())
                : new Moment(contact.Key, MomentKinds.Mediocre, [], at));
        }
        return [.. moments.OrderBy(m => m.At).ThenBy(m => m.ContactKey, StringComparer.Ordinal)];
    }
}

/// <summary>One entry of the loyalty account: what a moment deposited (positive) or withdrew, and the balance after it.</summary>
public sealed record LedgerEntry(
    DateTimeOffset At, string ContactKey, string Kind, string Reason, IReadOnlyList<string> Reasons, int Amount, int Balance,
    DateTimeOffset? AmountsFrom);

/// <summary>A customer's loyalty account at a moment: the balance and every entry in time order.</summary>
public sealed record LedgerAccount(int Balance, IReadOnlyList<LedgerEntry> Entries)
{
    public const int Opening = 50;
    public const int Lowest = 0;
    public const int Highest = 100;
}

/// <summary>
/// Chris Duffy's loyalty bank account, pure: it opens at 50 and stays within 0-100; each misery withdraws and each magic
/// deposits the amount of its heaviest reason, in the order the moments were lived (so two customers' ledgers merged
/// interleave by time). The amounts of a moment are those in force when it was lived: a change applies from then on and
/// never rewrites an entry before it.
/// </summary>
public static class Ledger
{
    public static LedgerAccount Compute(IEnumerable<Moment> moments, IReadOnlyList<MomentSettingsSince> history)
    {
        var changes = history.OrderBy(h => h.EffectiveFrom).ToList();
        var balance = LedgerAccount.Opening;
        var entries = new List<LedgerEntry>();
        foreach (var moment in moments.Where(m => m.Kind != MomentKinds.Mediocre).OrderBy(m => m.At).ThenBy(m => m.ContactKey, StringComparer.Ordinal))
        {
            var inForce = changes.LastOrDefault(c => c.EffectiveFrom <= moment.At);
            var amounts = inForce?.Settings.Amounts ?? new LedgerAmounts(); // before the first change, the defaults were in force
            var reason = moment.Reasons.MaxBy(amounts.For)!;
            var amount = moment.Kind == MomentKinds.Misery ? -amounts.For(reason) : amounts.For(reason);
            balance = Math.Clamp(balance + amount, LedgerAccount.Lowest, LedgerAccount.Highest);
            entries.Add(new LedgerEntry(moment.At, moment.ContactKey, moment.Kind, reason, moment.Reasons, amount, balance, inForce?.EffectiveFrom));
        }
        return new LedgerAccount(balance, entries);
    }
}

/// <summary>A customer's story at a moment: contacts, their promises judged, moments, the account, and the settings in force.</summary>
public sealed record StoryEvaluation(
    IReadOnlyList<Contact> Contacts, IReadOnlyList<PromiseState> Promises, IReadOnlyList<Moment> Moments, LedgerAccount Account, MomentSettings Settings,
    DateTimeOffset AsOf);

/// <summary>The one way the ledger's read and the moment watch work out a customer's moments and account from stored events.</summary>
public static class CustomerStory
{
    /// <summary>As of now, or of the latest moment the events know of when that is later (a clock behind the platforms').</summary>
    public static StoryEvaluation Evaluate(IReadOnlyList<ContactEvent> events, TimeSpan journeyWindow, IReadOnlyList<MomentSettingsSince> history,
        DateTimeOffset now)
    {
        var settings = history.LastOrDefault()?.Settings ?? new MomentSettings();
        var contacts = ContactFolder.Fold(events);
        var asOf = new[] { now, CustomerEffort.LatestOf(events) }.Max();
        var promises = PromiseJudge.Judge(contacts, asOf);
        var moments = MomentJudge.Classify(contacts, promises, journeyWindow, settings.Thresholds);
        return new StoryEvaluation(contacts, promises, moments, Ledger.Compute(moments, history), settings, asOf);
    }
}

/// <summary>What the moment watch tells subscribers about one customer at a pass, and when to look again.</summary>
public sealed record MomentAnnouncements(IReadOnlyList<Moment> Misery, LedgerEntry? CrossedBelow, bool Low, DateTimeOffset? NextDue);

/// <summary>
/// The watch's pure rule. A misery moment is announced the first time it is seen (once per contact: announced keys are
/// never announced again, whoever holds the contact after merges and splits); the account's fall below the floor once per
/// crossing (it must be back at the floor or above before the next). What was lived longer than the journey window ago
/// (a backfill) announces nothing. The watch looks again when the next open promise falls due.
/// </summary>
public static class MomentAnnouncer
{
    public static MomentAnnouncements Decide(IReadOnlyList<Moment> moments, LedgerAccount account, int floor, IReadOnlySet<string> announced, bool wasLow,
        IReadOnlyList<PromiseState> promises, DateTimeOffset now, TimeSpan journeyWindow)
    {
        var fresh = now - journeyWindow;
        var misery = moments.Where(m => m.Kind == MomentKinds.Misery && m.At >= fresh && !announced.Contains(m.ContactKey)).ToList();
        var low = account.Balance < floor;
        var crossed = low && !wasLow && account.Entries.LastOrDefault() is { } last && last.At >= fresh ? last : null;
        var next = promises.Where(p => p.Status == PromiseStatus.Open).Select(p => (DateTimeOffset?)p.Promise.DueAt).Min();
        return new MomentAnnouncements(misery, crossed, low, next);
    }
}
