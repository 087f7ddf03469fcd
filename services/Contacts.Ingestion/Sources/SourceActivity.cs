using System.Collections.Concurrent;

namespace Contacts.Ingestion.Sources;

/// <summary>Where sources are watched from: how often counts are written, the default gap, how often silence is looked for.</summary>
public sealed class SourceOptions
{
    /// <summary>How often the counts gathered in memory are written (and a silent source that sent again is announced).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A source quiet for longer than this is silent, unless the tenant set its own gap.</summary>
    public TimeSpan SilentAfter { get; set; } = TimeSpan.FromMinutes(30);
}

/// <summary>Accepted events and refused requests of one source in one hour, and when its last event came.</summary>
public sealed record SourceCount(string Tenant, string Source, DateTimeOffset Hour, int Accepted, int Refused, DateTimeOffset? LastEventAt,
    DateTimeOffset? LastRefusedAt);

/// <summary>
/// Counts per tenant, source and hour, gathered in memory on the request path (no statement of its own there) and written
/// every few seconds by the SourceWatch; a count not yet written when the process dies is lost, which source health
/// (a monitoring view) can afford and the contact events themselves never are.
/// </summary>
public sealed class SourceActivity(TimeProvider clock)
{
    private sealed class Counts
    {
        public int Accepted;
        public int Refused;
        public long LastEventTicks;
        public long LastRefusedTicks;
    }

    private ConcurrentDictionary<(string Tenant, string Source, DateTimeOffset Hour), Counts> _counts = new();

    public void Accepted(string tenant, string source, int events = 1)
    {
        if (events <= 0)
        {
            return;
        }
        var now = clock.GetUtcNow();
        var counts = _counts.GetOrAdd((tenant, source, Hour(now)), _ => new Counts());
        Interlocked.Add(ref counts.Accepted, events);
        Interlocked.Exchange(ref counts.LastEventTicks, now.UtcTicks);
    }

    public void Refused(string tenant, string source)
    {
        var now = clock.GetUtcNow();
        var counts = _counts.GetOrAdd((tenant, source, Hour(now)), _ => new Counts());
        Interlocked.Increment(ref counts.Refused);
        Interlocked.Exchange(ref counts.LastRefusedTicks, now.UtcTicks);
    }

    /// <summary>Everything counted since the last take, and a fresh start.</summary>
    public IReadOnlyList<SourceCount> Take()
    {
        var taken = Interlocked.Exchange(ref _counts, new());
        return
        [
            .. taken.Select(c => new SourceCount(c.Key.Tenant, c.Key.Source, c.Key.Hour, c.Value.Accepted, c.Value.Refused,
                At(c.Value.LastEventTicks), At(c.Value.LastRefusedTicks))),
        ];
    }

    /// <summary>Puts back counts that could not be written, so the next flush writes them.</summary>
    public void Restore(IEnumerable<SourceCount> counts)
    {
        foreach (var c in counts)
        {
            var into = _counts.GetOrAdd((c.Tenant, c.Source, c.Hour), _ => new Counts());
            Interlocked.Add(ref into.Accepted, c.Accepted);
            Interlocked.Add(ref into.Refused, c.Refused);
            if (c.LastEventAt is { } e)
            {
                Interlocked.Exchange(ref into.LastEventTicks, Math.Max(Interlocked.Read(ref into.LastEventTicks), e.UtcTicks));
            }
            if (c.LastRefusedAt is { } r)
            {
                Interlocked.Exchange(ref into.LastRefusedTicks, Math.Max(Interlocked.Read(ref into.LastRefusedTicks), r.UtcTicks));
            }
        }
    }

    public static DateTimeOffset Hour(DateTimeOffset at) => new(at.UtcDateTime.Year, at.UtcDateTime.Month, at.UtcDateTime.Day, at.UtcDateTime.Hour, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset? At(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
}
