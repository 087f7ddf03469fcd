using Contacts.Messaging.Persistence;

namespace Contacts.Messaging.Outbox;

/// <summary>
/// Right to erasure in the outbox: sent rows are kept a day (Outbox:RetainSent) and pending ones are on their way, and
/// both hold the erased person's messages (customer ids, contact ids, channels, topics, drivers). Deletes every row whose
/// body names one of the ids; a pending row of a type named in keepPending stays, because it carries another customer's
/// change too (a split), and its consumers treat the erased side as erased. One pass over the table per erasure: an
/// erasure is rare and the table holds a day of messages.
/// </summary>
public static class OutboxErasure
{
    public static async Task<int> Forget(Session session, IEnumerable<Guid> ids, CancellationToken ct, params Type[] keepPending)
    {
        var pattern = string.Join('|', ids.Select(id => id.ToString()).Distinct());
        if (pattern.Length == 0)
        {
            return 0;
        }
        return await session.Execute("delete from outbox where body::text ~ @pattern and not (sent_at is null and message_type = any(@keep))",
            new { pattern, keep = keepPending.Select(t => t.FullName!).ToArray() }, ct);
    }
}
