using System.Security.Cryptography;
using Contacts.Contracts;

namespace Contacts.Messaging;

/// <summary>
/// The per-contact messages that travel between services many to a message. Writers still queue one outbox row per
/// contact (its id is what every inbox dedupes on); the relay carries the committed rows of one type together, in commit
/// order, as one batch message, so a stage pays one publish, one consume and one transaction for up to
/// <see cref="Outbox.OutboxOptions.MaxBatchItems"/> contacts instead of one each.
/// </summary>
public static class PipelineBatches
{
    /// <summary>How to wrap items of one per-contact type into its batch message.</summary>
    public sealed record Kind(Type BatchType, Func<Guid, IReadOnlyList<(Guid MessageId, DateTimeOffset SentAt, string? Traceparent, object Message)>, object> Create);

    private static readonly Dictionary<Type, Kind> Kinds = new()
    {
        [typeof(ContactEventReceived)] = Of<ContactEventReceived, ContactEventReceivedBatch>((id, items) => new(id, items)),
        [typeof(ContactAttributed)] = Of<ContactAttributed, ContactAttributedBatch>((id, items) => new(id, items)),
        [typeof(EffortScored)] = Of<EffortScored, EffortScoredBatch>((id, items) => new(id, items)),
        [typeof(CustomersMerged)] = Of<CustomersMerged, CustomersMergedBatch>((id, items) => new(id, items)),
    };

    /// <summary>The batch kind of a per-contact message type, or null for a message that always travels alone.</summary>
    public static Kind? For(Type messageType) => Kinds.GetValueOrDefault(messageType);

    /// <summary>Every batch message type, for the topology.</summary>
    public static IEnumerable<Type> BatchTypes => Kinds.Values.Select(k => k.BatchType);

    /// <summary>
    /// A batch's id from its items' ids: a re-send of the same rows carries the same id. (Rows claimed again after a
    /// crash may be grouped otherwise; the inboxes dedupe each item on its own id, so that changes nothing.)
    /// </summary>
    public static Guid IdOf(IEnumerable<Guid> itemIds)
    {
        var bytes = itemIds.SelectMany(id => id.ToByteArray()).ToArray();
        return new Guid(SHA256.HashData(bytes).AsSpan(0, 16));
    }

    private static Kind Of<TItem, TBatch>(Func<Guid, IReadOnlyList<BatchItem<TItem>>, TBatch> create) where TBatch : class =>
        new(typeof(TBatch), (id, items) => create(id, [.. items.Select(i => new BatchItem<TItem>(i.MessageId, i.SentAt, i.Traceparent, (TItem)i.Message))]));
}
