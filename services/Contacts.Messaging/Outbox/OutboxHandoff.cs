using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Contacts.Messaging.Outbox;

/// <summary>An outbox row its transaction has committed, handed to this process's relay as the object it was written from.</summary>
public sealed record HandedRow(Guid Id, object Message, string? Traceparent, string? Destination);

/// <summary>What a commit wrote to the outbox, and whether the rows are leased to this process's relay (see <see cref="OutboxHandoff"/>).</summary>
public sealed record OutboxFlush(IReadOnlyList<HandedRow> Rows, DateTimeOffset WrittenAt, bool Leased)
{
    public static readonly OutboxFlush None = new([], default, false);

    public int Count => Rows.Count;
}

/// <summary>
/// Committed outbox rows handed from the committing transaction to the relay of the same process, so the relay publishes
/// the messages it already has in memory instead of reading each row back from PostgreSQL and deserializing it. The rows
/// are still written in the transaction (a crash loses nothing), but with a lease (<see cref="OutboxOptions.HandoffLease"/>):
/// no relay's poll claims them until it ends. The relay publishes them, then marks them sent; one that fails to publish
/// is marked for a retry, which the poll then takes as any other row. Rows of a process that stops or crashes before
/// publishing them wait for their lease, then any instance's poll sends them. When more than
/// <see cref="OutboxOptions.MaxHandedRows"/> wait here, commits write their rows without a lease for the poll, as before.
/// </summary>
public sealed class OutboxHandoff(IOptions<OutboxOptions> options)
{
    private readonly ConcurrentQueue<(HandedRow Row, DateTimeOffset WrittenAt)> _rows = new();
    private readonly OutboxOptions _options = options.Value;
    private int _count;
    private int _pollAsked;

    /// <summary>The lease for rows a transaction writes now: zero when they are left to the poll.</summary>
    public TimeSpan LeaseForNext => _options.HandOff && Volatile.Read(ref _count) < _options.MaxHandedRows ? _options.HandoffLease : TimeSpan.Zero;

    public bool IsEmpty => _rows.IsEmpty;

    /// <summary>After commit: leased rows are queued for the relay; rows without a lease ask the relay to poll now.</summary>
    public void Committed(OutboxFlush flush)
    {
        if (!flush.Leased)
        {
            Volatile.Write(ref _pollAsked, 1);
            return;
        }
        foreach (var row in flush.Rows)
        {
            _rows.Enqueue((row, flush.WrittenAt));
        }
        Interlocked.Add(ref _count, flush.Rows.Count);
    }

    /// <summary>Up to max handed rows, in the order their transactions committed, each with its row's created_at (its sentTime).</summary>
    public List<(HandedRow Row, DateTimeOffset WrittenAt)> Take(int max)
    {
        var taken = new List<(HandedRow, DateTimeOffset)>(Math.Min(max, Math.Max(0, Volatile.Read(ref _count))));
        while (taken.Count < max && _rows.TryDequeue(out var row))
        {
            taken.Add(row);
        }
        Interlocked.Add(ref _count, -taken.Count);
        return taken;
    }

    /// <summary>Whether a commit left rows to the poll since the last call.</summary>
    public bool PollAsked() => Interlocked.Exchange(ref _pollAsked, 0) == 1;
}
