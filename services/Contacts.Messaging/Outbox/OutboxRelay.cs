using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Contacts.Contracts;
using Contacts.Messaging;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using MassTransit.Serialization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Messaging.Outbox;

public sealed class OutboxOptions
{
    /// <summary>
    /// Rows per relay pass. A pass's rows of a type routed by customer split into one batch per partition, so a pass of
    /// 800 (what a busy writer commits while the last pass publishes) still makes batches near MaxBatchItems.
    /// </summary>
    public int BatchSize { get; set; } = 800;
    /// <summary>At most this many per-contact rows of one type travel in one batch message (PipelineBatches); 1 sends each alone.</summary>
    public int MaxBatchItems { get; set; } = 100;
    /// <summary>Fallback wake-up for retries and for rows a crashed instance left behind; commits wake the relay at once.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetainSent { get; set; } = TimeSpan.FromDays(1);
    /// <summary>Longer than any redelivery can be late, so a duplicate is always still recognised.</summary>
    public TimeSpan RetainInbox { get; set; } = TimeSpan.FromDays(7);
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>Whether committing transactions hand their rows to this process's relay (<see cref="OutboxHandoff"/>); false leaves every row to the poll.</summary>
    public bool HandOff { get; set; } = true;
    /// <summary>How long a handed row is left to its own process's relay before any poll may take it (after a crash, the longest it waits).</summary>
    public TimeSpan HandoffLease { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>At most this many handed rows wait in memory; beyond it, rows go to the poll.</summary>
    public int MaxHandedRows { get; set; } = 5000;
}

/// <summary>
/// Publishes committed outbox rows through the MassTransit bus with publisher confirms, the row id as MessageId, and marks them sent.
/// The rows this process's transactions hand over (<see cref="OutboxHandoff"/>) go from memory; the rest (retries, rows
/// past their lease, rows written while the handoff was full) are claimed with FOR UPDATE SKIP LOCKED, so any number of
/// instances can relay side by side. A crash between publish and mark re-sends with the same MessageId, which the
/// consumers' inboxes drop.
/// </summary>
internal sealed partial class OutboxRelay(
    NpgsqlDataSource dataSource,
    MigrationState migrations,
    TopologyState topology,
    OutboxSignal signal,
    OutboxHandoff handoff,
    OutboxPublisher publisher,
    IOptions<OutboxOptions> options,
    IOptions<RabbitMqOptions> broker,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private readonly int _partitions = broker.Value.Partitions;
    private static readonly ConcurrentDictionary<string, Type?> MessageTypes = new();
    private readonly OutboxOptions _options = options.Value;
    private DateTimeOffset _nextCleanup = DateTimeOffset.UtcNow;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        await topology.WaitAsync(stoppingToken);
        var nextPoll = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                // What this process's transactions handed over, then (each poll interval, at once when a commit left rows
                // to the poll, or while the last pass was full) what the table holds: retries, rows past their lease.
                busy = await RelayHanded(stoppingToken) >= _options.BatchSize;
                if (handoff.PollAsked() || DateTimeOffset.UtcNow >= nextPoll)
                {
                    nextPoll = DateTimeOffset.UtcNow + _options.PollInterval;
                    if (await RelayClaimed(stoppingToken) >= _options.BatchSize)
                    {
                        busy = true;
                        nextPoll = DateTimeOffset.MinValue;
                    }
                }
                if (DateTimeOffset.UtcNow >= _nextCleanup)
                {
                    await Cleanup(stoppingToken);
                    _nextCleanup = DateTimeOffset.UtcNow + _options.CleanupInterval;
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogRelayFailed(logger, ex.Message);
                await Task.Delay(_options.PollInterval, stoppingToken);
            }
            if (!busy && handoff.IsEmpty)
            {
                var untilPoll = nextPoll - DateTimeOffset.UtcNow;
                await signal.WaitAsync(untilPoll > TimeSpan.Zero ? untilPoll : TimeSpan.Zero, stoppingToken);
            }
        }
    }

    /// <summary>A row on its way: its message (null with the reason when it cannot be read), and what the marks need.</summary>
    private sealed record Row(Guid Id, Type? Type, object? Message, string? Error, string? Traceparent, int Attempts, DateTimeOffset CreatedAt,
        string? Destination);

    /// <summary>The rows this process's transactions handed over (<see cref="OutboxHandoff"/>): published, then marked.</summary>
    private async Task<int> RelayHanded(CancellationToken ct)
    {
        var handed = handoff.Take(_options.BatchSize);
        if (handed.Count == 0)
        {
            return 0;
        }
        var rows = handed.Select(h => new Row(h.Row.Id, h.Row.Message.GetType(), h.Row.Message, null, h.Row.Traceparent, 0, h.WrittenAt,
            h.Row.Destination)).ToList();
        var results = await Publish(rows, ct);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await Mark(connection, null, rows, results, ct);
        return rows.Count;
    }

    /// <summary>The due rows of the table, claimed with FOR UPDATE SKIP LOCKED, read back and published, then marked.</summary>
    private async Task<int> RelayClaimed(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var rows = new List<Row>();
        await using (var cmd = new NpgsqlCommand("""
            select id, message_type, body::text, traceparent, attempts, created_at, destination from outbox
            where sent_at is null and next_attempt_at <= now()
            order by seq limit @limit
            for update skip locked
            """, connection, transaction))
        {
            cmd.Parameters.AddWithValue("limit", _options.BatchSize);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var (id, typeName, body) = (reader.GetGuid(0), reader.GetString(1), reader.GetString(2));
                var type = MessageTypes.GetOrAdd(typeName, static name => typeof(ContactEventReceived).Assembly.GetType(name));
                object? message = null;
                string? error = null;
                try
                {
                    message = type is null ? null : JsonSerializer.Deserialize(body, type, SystemTextJsonMessageSerializer.Options);
                    error = type is null ? $"unknown message type {typeName}" : message is null ? $"outbox row {id} has a null body" : null;
                }
                catch (JsonException ex)
                {
                    error = $"{ex.GetType().Name}: {ex.Message}";
                }
                rows.Add(new Row(id, type, message, error, reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt32(4),
                    reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
            }
        }
        if (rows.Count == 0)
        {
            return 0;
        }
        var results = await Publish(rows, ct);
        await Mark(connection, transaction, rows, results, ct);
        await transaction.CommitAsync(ct);
        return rows.Count;
    }

    /// <summary>
    /// Publishes the rows with confirms: the per-contact ones carried with the other rows of their type (and, for the stages
    /// routed by customer, of their partition, which is the routing key), in order, as batch messages
    /// (<see cref="PipelineBatches"/>), the rest one by one. Returns each row's error, null where confirmed.
    /// </summary>
    private async Task<string?[]> Publish(IReadOnlyList<Row> rows, CancellationToken ct)
    {
        var results = rows.Select(r => r.Error).ToArray();
        var messages = new List<(OutgoingMessage Message, int[] Rows)>();
        var batches = new Dictionary<Type, List<int>>();
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row.Type is not { } type || row.Message is null)
            {
                continue;
            }
            if (row.Destination is null && _options.MaxBatchItems > 1 && PipelineBatches.For(type) is not null)
            {
                (batches.TryGetValue(type, out var list) ? list : batches[type] = []).Add(i);
            }
            else
            {
                messages.Add((new OutgoingMessage(row.Id, type, row.Message, row.Traceparent, row.CreatedAt, row.Destination), [i]));
            }
        }
        foreach (var (type, indexes) in batches)
        {
            var kind = PipelineBatches.For(type)!;
            foreach (var (partition, chunk) in PipelineBatches.Group(kind, [.. indexes.Select(i => (i, rows[i].Message!))], _options.MaxBatchItems, _partitions))
            {
                var items = chunk.Select(i => (rows[i].Id, rows[i].CreatedAt, rows[i].Traceparent, rows[i].Message!)).ToList();
                var id = PipelineBatches.IdOf(items.Select(item => item.Id));
                var links = items.Select(item => item.Traceparent is not null && ActivityContext.TryParse(item.Traceparent, null, out var context)
                    ? new ActivityLink(context) : (ActivityLink?)null).OfType<ActivityLink>().ToList();
                messages.Add((new OutgoingMessage(id, kind.BatchType, kind.Create(id, items), null, items.Min(item => item.CreatedAt), Links: links,
                    RoutingKey: partition?.ToString(System.Globalization.CultureInfo.InvariantCulture)), chunk));
            }
        }
        using (var activity = ContactsTelemetry.Source.StartActivity("outbox relay", ActivityKind.Producer))
        {
            activity?.SetTag("messaging.batch.message_count", rows.Count);
            var published = await publisher.Publish([.. messages.Select(m => m.Message)], _options.PublishTimeout, ct);
            for (var m = 0; m < messages.Count; m++)
            {
                foreach (var i in messages[m].Rows)
                {
                    results[i] = published[m];
                }
            }
        }
        return results;
    }

    /// <summary>Marks the confirmed rows sent and the others due again after a backoff (the poll takes them then), in one round trip.</summary>
    private async Task Mark(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<Row> rows, string?[] results, CancellationToken ct)
    {
        var sent = rows.Where((_, i) => results[i] is null).Select(r => r.Id).ToArray();
        await using var batch = new NpgsqlBatch(connection, transaction);
        if (sent.Length > 0)
        {
            var markSent = new NpgsqlBatchCommand("update outbox set sent_at = now(), attempts = attempts + 1, last_error = null where id = any(@ids)");
            markSent.Parameters.AddWithValue("ids", sent);
            batch.BatchCommands.Add(markSent);
        }
        for (var i = 0; i < rows.Count; i++)
        {
            if (results[i] is { } error)
            {
                var backoff = TimeSpan.FromMilliseconds(Math.Min(250 * Math.Pow(2, rows[i].Attempts), 30_000));
                var markFailed = new NpgsqlBatchCommand("""
                    update outbox set attempts = attempts + 1, last_error = @error, next_attempt_at = now() + @backoff where id = @id
                    """);
                markFailed.Parameters.AddWithValue("id", rows[i].Id);
                markFailed.Parameters.AddWithValue("error", error);
                markFailed.Parameters.AddWithValue("backoff", backoff);
                batch.BatchCommands.Add(markFailed);
            }
        }
        await batch.ExecuteNonQueryAsync(ct);
        ContactsTelemetry.OutboxPublished.Add(sent.Length);
        if (sent.Length < rows.Count)
        {
            ContactsTelemetry.OutboxPublishFailures.Add(rows.Count - sent.Length);
            LogPublishFailed(logger, rows.Count - sent.Length, rows.Count, results.First(r => r is not null)!);
        }
    }

    private async Task Cleanup(CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        var outbox = new NpgsqlBatchCommand("delete from outbox where sent_at < now() - @retain");
        outbox.Parameters.AddWithValue("retain", _options.RetainSent);
        var inbox = new NpgsqlBatchCommand("delete from inbox where processed_at < now() - @retain");
        inbox.Parameters.AddWithValue("retain", _options.RetainInbox);
        batch.BatchCommands.Add(outbox);
        batch.BatchCommands.Add(inbox);
        await batch.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay pass failed, retrying: {Reason}")]
    private static partial void LogRelayFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Failed} of {Claimed} outbox messages were not confirmed by the broker and will be retried; first error: {Error}")]
    private static partial void LogPublishFailed(ILogger logger, int failed, int claimed, string error);
}
