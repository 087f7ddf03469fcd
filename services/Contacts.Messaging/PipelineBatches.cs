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
    /// <summary>
    /// How to wrap items of one per-contact type into its batch message; Customer, for the types routed by customer
    /// (PipelineTopology.Partitioned), names the customer an item's partition is taken from.
    /// </summary>
    public sealed record Kind(Type BatchType, Func<Guid, IReadOnlyList<(Guid MessageId, DateTimeOffset SentAt, string? Traceparent, object Message)>, object> Create,
        Func<object, (string Tenant, Guid Customer)>? Customer = null);

    private static readonly Dictionary<Type, Kind> Kinds = new()
    {
        [typeof(ContactEventReceived)] = Of<ContactEventReceived, ContactEventReceivedBatch>((id, items) => new(id, items)),
        [typeof(ContactAttributed)] = Of<ContactAttributed, ContactAttributedBatch>((id, items) => new(id, items), m => (m.TenantId, m.CustomerId)),
        [typeof(EffortScored)] = Of<EffortScored, EffortScoredBatch>((id, items) => new(id, items), m => (m.TenantId, m.CustomerId)),
        [typeof(CustomersMerged)] = Of<CustomersMerged, CustomersMergedBatch>((id, items) => new(id, items)),
    };

    /// <summary>
    /// A customer's partition among <paramref name="partitions"/>: FNV-1a over the tenant and the id's bytes, the same in
    /// every process and version (string.GetHashCode is not).
    /// </summary>
    public static int PartitionOf(string tenant, Guid customer, int partitions)
    {
        var hash = 2166136261u;
        foreach (var c in tenant)
        {
            hash = (hash ^ c) * 16777619u;
        }
        Span<byte> bytes = stackalloc byte[16];
        customer.TryWriteBytes(bytes);
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 16777619u;
        }
        return (int)(hash % (uint)partitions);
    }

    /// <summary>
    /// The relay's grouping, pure: rows of one batch kind (indexes into the relay's rows, in commit order) into batches of
    /// at most <paramref name="maxItems"/>, each of one partition (null where the kind is not routed by customer) and in
    /// commit order within it.
    /// </summary>
    public static IEnumerable<(int? Partition, int[] Rows)> Group(Kind kind, IReadOnlyList<(int Row, object Message)> rows, int maxItems, int partitions)
    {
        if (kind.Customer is not { } customer)
        {
            return rows.Select(r => r.Row).Chunk(maxItems).Select(chunk => ((int?)null, chunk));
        }
        return rows.GroupBy(r => customer(r.Message) is var (tenant, id) ? PartitionOf(tenant, id, Math.Max(1, partitions)) : 0)
            .SelectMany(g => g.Select(r => r.Row).Chunk(maxItems).Select(chunk => ((int?)g.Key, chunk)));
    }

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

    private static Kind Of<TItem, TBatch>(Func<Guid, IReadOnlyList<BatchItem<TItem>>, TBatch> create, Func<TItem, (string, Guid)>? customer = null)
        where TBatch : class =>
        new(typeof(TBatch), (id, items) => create(id, [.. items.Select(i => new BatchItem<TItem>(i.MessageId, i.SentAt, i.Traceparent, (TItem)i.Message))]),
            customer is null ? null : message => customer((TItem)message));
}
