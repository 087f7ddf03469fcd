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
    public int BatchSize { get; set; } = 200;
    /// <summary>At most this many per-contact rows of one type travel in one batch message (PipelineBatches); 1 sends each alone.</summary>
    public int MaxBatchItems { get; set; } = 100;
    /// <summary>Fallback wake-up for retries and for rows a crashed instance left behind; commits wake the relay at once.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetainSent { get; set; } = TimeSpan.FromDays(1);
    /// <summary>Longer than any redelivery can be late, so a duplicate is always still recognised.</summary>
    public TimeSpan RetainInbox { get; set; } = TimeSpan.FromDays(7);
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// Publishes committed outbox rows through the MassTransit bus with publisher confirms, the row id as MessageId, and marks them sent.
/// Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of instances can relay side by side; a crash between
/// publish and mark re-sends with the same MessageId, which the consumers' inboxes drop.
/// </summary>
internal sealed partial class OutboxRelay(
    NpgsqlDataSource dataSource,
    MigrationState migrations,
    TopologyState topology,
    OutboxSignal signal,
    OutboxPublisher publisher,
    IOptions<OutboxOptions> options,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private static readonly ConcurrentDictionary<string, Type?> MessageTypes = new();
    private readonly OutboxOptions _options = options.Value;
    private DateTimeOffset _nextCleanup = DateTimeOffset.UtcNow;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        await topology.WaitAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                claimed = await RelayBatch(stoppingToken);
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
            if (claimed < _options.BatchSize)
            {
                await signal.WaitAsync(_options.PollInterval, stoppingToken);
            }
        }
    }

    private async Task<int> RelayBatch(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var rows = new List<(Guid Id, string Type, string Body, string? Traceparent, int Attempts, DateTimeOffset CreatedAt, string? Destination)>();
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
                rows.Add((reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.GetInt32(4), reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
            }
        }
        if (rows.Count == 0)
        {
            return 0;
        }

        var results = new string?[rows.Count];
        var messages = new List<(OutgoingMessage Message, int[] Rows)>();
        var deserialized = new object?[rows.Count];
        var batches = new Dictionary<Type, List<int>>();
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var type = MessageTypes.GetOrAdd(row.Type, static name => typeof(ContactEventReceived).Assembly.GetType(name));
            object? message;
            try
            {
                message = type is null ? null : JsonSerializer.Deserialize(row.Body, type, SystemTextJsonMessageSerializer.Options);
            }
            catch (JsonException ex)
            {
                results[i] = $"{ex.GetType().Name}: {ex.Message}";
                continue;
            }
            if (type is null || message is null)
            {
                results[i] = type is null ? $"unknown message type {row.Type}" : $"outbox row {row.Id} has a null body";
            }
            else if (row.Destination is null && _options.MaxBatchItems > 1 && PipelineBatches.For(type) is not null)
            {
                // Carried with the other committed rows of its type, in commit order.
                (batches.TryGetValue(type, out var list) ? list : batches[type] = []).Add(i);
                deserialized[i] = message;
            }
            else
            {
                messages.Add((new OutgoingMessage(row.Id, type, message, row.Traceparent, row.CreatedAt, row.Destination), [i]));
            }
        }
        foreach (var (type, indexes) in batches)
        {
            var kind = PipelineBatches.For(type)!;
            foreach (var chunk in indexes.Chunk(_options.MaxBatchItems))
            {
                var items = chunk.Select(i => (rows[i].Id, rows[i].CreatedAt, rows[i].Traceparent, deserialized[i]!)).ToList();
                var id = PipelineBatches.IdOf(items.Select(item => item.Id));
                var links = items.Select(item => item.Traceparent is not null && ActivityContext.TryParse(item.Traceparent, null, out var context)
                    ? new ActivityLink(context) : (ActivityLink?)null).OfType<ActivityLink>().ToList();
                messages.Add((new OutgoingMessage(id, kind.BatchType, kind.Create(id, items), null, items.Min(item => item.CreatedAt), Links: links), chunk));
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
        await transaction.CommitAsync(ct);
        ContactsTelemetry.OutboxPublished.Add(sent.Length);
        if (sent.Length < rows.Count)
        {
            ContactsTelemetry.OutboxPublishFailures.Add(rows.Count - sent.Length);
            LogPublishFailed(logger, rows.Count - sent.Length, rows.Count, results.First(r => r is not null)!);
        }
        return rows.Count;
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
