namespace Contacts.Effort.Journeys;

/// <summary>Where a promise stands: open (not due yet), kept, kept late, or overdue (due, and no one has reached out).</summary>
public static class PromiseStatus
{
    public const string Open = "open";
    public const string Kept = "kept";
    public const string KeptLate = "kept_late";
    public const string Overdue = "overdue";

    /// <summary>The customer is still waiting on it.</summary>
    public static bool IsOpen(string status) => status is Open or Overdue;
}

/// <summary>A promise judged at a moment: kept by the first outbound contact after it was made, on any channel.</summary>
public sealed record PromiseState(MadePromise Promise, string Status, string? KeptBy, DateTimeOffset? KeptAt)
{
    public bool IsOpen => PromiseStatus.IsOpen(Status);
}

/// <summary>
/// The pure rule for promises ("voicemail is no service": a callback promised and never made is part of the customer's
/// story). A callback or follow-up is kept by an outbound contact on any channel that starts at or after the promise was
/// made, other than the contact that made it; by its due time it is kept, after it kept late; without one it is open until
/// it falls due and overdue from then on. A function of the contacts and the moment only, so any arrival order agrees.
/// </summary>
public static class PromiseJudge
{
    public static IReadOnlyList<PromiseState> Judge(IEnumerable<Contact> contacts, DateTimeOffset asOf)
    {
        var all = contacts.ToList();
        var outbound = all.Where(c => !c.Inbound && !c.IsSurveyOnly).OrderBy(c => c.StartedAt).ThenBy(c => c.Key, StringComparer.Ordinal).ToList();
        return
        [
            .. all.SelectMany(c => c.Promises).OrderBy(p => p.MadeAt).ThenBy(p => p.ContactKey, StringComparer.Ordinal).Select(promise =>
            {
                var keeper = outbound.FirstOrDefault(c => c.Key != promise.ContactKey && c.StartedAt >= promise.MadeAt);
                var status = keeper is not null
                    ? keeper.StartedAt <= promise.DueAt ? PromiseStatus.Kept : PromiseStatus.KeptLate
                    : asOf > promise.DueAt ? PromiseStatus.Overdue : PromiseStatus.Open;
                return new PromiseState(promise, status, keeper?.Key, keeper?.StartedAt);
            }),
        ];
    }
}
