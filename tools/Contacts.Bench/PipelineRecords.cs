using Npgsql;

namespace Contacts.Bench;

/// <summary>When one contact reached each stage, from the services' own tables (all on the database server's clock).</summary>
public sealed record ContactTimes(Guid ContactEventId, DateTimeOffset Accepted, DateTimeOffset? Attributed, DateTimeOffset? Scored);

/// <summary>
/// Reads what the services recorded: ingestion's received events (accepted), and the ContactAttributed / EffortScored
/// rows identity and effort wrote to their outboxes in the transaction that attributed or scored the contact. Counted
/// this way, a contact is scored when effort committed its score, whatever the gateway answered. Every query here is
/// one transaction in that service's database, counted so they can be taken out of the service's own count.
/// </summary>
public sealed class PipelineRecords(IReadOnlyDictionary<string, string> databases)
{
    private readonly Dictionary<string, int> _queries = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string, DateTimeOffset), PublishedCursor> _cursors = new();

    public int QueriesOn(string service)
    {
        lock (_queries)
        {
            return _queries.GetValueOrDefault(service);
        }
    }

    /// <summary>Contacts of this phase that ingestion stored, keyed by the event id it gave them.</summary>
    public async Task<Dictionary<Guid, DateTimeOffset>> Accepted(Workload workload, CancellationToken ct)
    {
        var accepted = new Dictionary<Guid, DateTimeOffset>();
        await Query("ingestion", """
            select event_id, received_at from received_events where source = 'bench' and starts_with(source_event_id, @prefix)
            """, cmd => cmd.Parameters.AddWithValue("prefix", workload.SourceEventIdPrefix),
            r => accepted[r.GetGuid(0)] = r.GetFieldValue<DateTimeOffset>(1), ct);
        return accepted;
    }

    /// <summary>The first time each contact event id shows up in a published message of this type since a moment.</summary>
    /// <summary>Written (created_at: the transaction that wrote it) or relayed to the broker (sent_at).</summary>
    public async Task<Dictionary<Guid, DateTimeOffset>> Published(string service, string messageType, DateTimeOffset since, CancellationToken ct,
        bool relayed = false)
    {
        var published = new Dictionary<Guid, DateTimeOffset>();
        var column = relayed ? "sent_at" : "created_at";
        await Query(service, $"""
            select (body->>'contactEventId')::uuid, min({column}) from outbox
            where message_type = @type and created_at >= @since and {column} is not null group by 1
            """, cmd =>
            {
                cmd.Parameters.AddWithValue("type", messageType);
                cmd.Parameters.AddWithValue("since", since);
            }, r => published[r.GetGuid(0)] = r.GetFieldValue<DateTimeOffset>(1), ct);
        return published;
    }

    /// <summary>
    /// How many distinct contacts have a published message of this type since a moment. Polled while a phase drains, so
    /// it reads only rows past the last poll's (less a margin for rows numbered earlier that committed later): a count
    /// over the whole outbox every half second was the largest statement in effort's database during the burst.
    /// </summary>
    public async Task<int> CountPublished(string service, string messageType, DateTimeOffset since, CancellationToken ct)
    {
        var cursor = _cursors.GetOrAdd((service, messageType, since), static _ => new PublishedCursor());
        // Rows take their seq when inserted and show when committed: 1,000 is far more than can be in flight at once.
        const long Margin = 1_000;
        await Query(service, """
            select seq, body->>'contactEventId' from outbox where seq > @after and message_type = @type and created_at >= @since
            """, cmd =>
            {
                cmd.Parameters.AddWithValue("after", Math.Max(0, cursor.LastSeq - Margin));
                cmd.Parameters.AddWithValue("type", messageType);
                cmd.Parameters.AddWithValue("since", since);
            }, r =>
            {
                cursor.LastSeq = Math.Max(cursor.LastSeq, r.GetInt64(0));
                if (!r.IsDBNull(1))
                {
                    cursor.Contacts.Add(r.GetString(1));
                }
            }, ct);
        return cursor.Contacts.Count;
    }

    private sealed class PublishedCursor
    {
        public long LastSeq;
        public HashSet<string> Contacts { get; } = [];
    }

    public async Task<List<ContactTimes>> Times(Workload workload, DateTimeOffset since, CancellationToken ct)
    {
        var accepted = await Accepted(workload, ct);
        var attributed = await Published("identity", MessageTypes.ContactAttributed, since, ct);
        var scored = await Published("effort", MessageTypes.EffortScored, since, ct);
        return [.. accepted.Select(a => new ContactTimes(a.Key, a.Value,
            attributed.TryGetValue(a.Key, out var at) ? at : null, scored.TryGetValue(a.Key, out var s) ? s : null))];
    }

    /// <summary>The database server's clock, which stamps every record read here.</summary>
    public async Task<DateTimeOffset> Now(CancellationToken ct)
    {
        var now = DateTimeOffset.MinValue;
        await Query("ingestion", "select clock_timestamp()", _ => { }, r => now = r.GetFieldValue<DateTimeOffset>(0), ct);
        return now;
    }

    private async Task Query(string service, string sql, Action<NpgsqlCommand> bind, Action<NpgsqlDataReader> row, CancellationToken ct)
    {
        lock (_queries)
        {
            _queries[service] = _queries.GetValueOrDefault(service) + 1;
        }
        // Each service keeps its tables in a schema named after it.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(databases[service]) { SearchPath = service }.ConnectionString);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(sql, connection);
        bind(cmd);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            row(reader);
        }
    }
}

public static class MessageTypes
{
    public const string ContactAttributed = "Contacts.Contracts.ContactAttributed";
    public const string EffortScored = "Contacts.Contracts.EffortScored";
    public const string HighEffortAlertRaised = "Contacts.Contracts.HighEffortAlertRaised";
}
