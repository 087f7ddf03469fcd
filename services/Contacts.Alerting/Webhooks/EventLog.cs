using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Alerting.Subscriptions;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Npgsql;

namespace Contacts.Alerting.Webhooks;

/// <summary>How long the tenant's event log keeps its events (the feed's and replay's horizon), and how often it is swept.</summary>
public sealed class EventLogOptions
{
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How often the sweeper looks for committed events without a feed position (logged by a writer of the shape before
    /// positions were taken at commit, during a rolling upgrade) and for events past retention.
    /// </summary>
    public TimeSpan SequenceInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>One event of the feed: its position (the cursor) and the body exactly as webhooks deliver it.</summary>
public sealed record FeedItem(
    [property: Description("The event's place in the tenant's feed: pass the last one as after.")] string Position,
    [property: Description("The event's body, as a webhook delivers it: {type, id, timestamp, tenant, data}.")] JsonNode Event);

public sealed record FeedPage(
    IReadOnlyList<FeedItem> Items,
    [property: Description("Pass as after for the next page (or to poll for new events); the last position read, also past filtered types.")] string? Next);

/// <summary>
/// The tenant's event log: every subscribable event, written in the transaction that decided it, whatever the
/// subscriptions. Positions are taken at commit under one lock (see EventLogRows), so a reader paging by position never
/// skips an event that commits late and never sees one twice.
/// The pull feed and replay read it; erasure removes a customer's events from it, except customer.erased.
/// </summary>
public static class EventLog
{
    /// <summary>
    /// Logs an event in the caller's transaction, written at its commit with the transaction's other events in one
    /// statement (an event logged twice under one id stays once).
    /// </summary>
    public static void Append(Session session, string tenantId, Guid eventId, string type, Guid? customerId, DateTimeOffset occurredAt, string body) =>
        session.AtCommit<EventLogRows>().Add(new EventLogRow(tenantId, eventId, type, customerId, occurredAt, body));

    private sealed record EventLogRow(string Tenant, Guid EventId, string Type, Guid? CustomerId, DateTimeOffset OccurredAt, string Body);

    /// <summary>
    /// The events a transaction logged, in the order they were logged, written last before commit with their feed positions:
    /// the positions come from one sequence while the transaction holds the log's lock, which it keeps until its commit is
    /// visible, so a transaction that takes positions after it takes greater ones and commits after it. A reader paging by
    /// position therefore never finds a smaller position committing behind one it has read.
    /// </summary>
    private sealed class EventLogRows : CommitRows<EventLogRow>
    {
        public override bool LocksUntilCommit => true;

        protected override IEnumerable<NpgsqlBatchCommand> WriteAll(IReadOnlyList<EventLogRow> rows)
        {
            var locked = new NpgsqlBatchCommand("select pg_advisory_xact_lock(@key)");
            locked.Parameters.AddWithValue("key", EventLogSequencer.LockKey);
            return [locked, Write(rows)];
        }

        protected override NpgsqlBatchCommand Write(IReadOnlyList<EventLogRow> rows)
        {
            var cmd = new NpgsqlBatchCommand("""
                insert into event_log (tenant_id, event_id, type, customer_id, occurred_at, body, position)
                select t, i, ty, c, a, b, nextval('event_log_position')
                from unnest(@tenants, @ids, @types, @customers, @at, @bodies) with ordinality as u(t, i, ty, c, a, b, n)
                order by n
                on conflict (tenant_id, event_id, type) do nothing
                """);
            cmd.Parameters.AddWithValue("tenants", rows.Select(r => r.Tenant).ToArray());
            cmd.Parameters.AddWithValue("ids", rows.Select(r => r.EventId).ToArray());
            cmd.Parameters.AddWithValue("types", rows.Select(r => r.Type).ToArray());
            cmd.Parameters.AddWithValue("customers", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Uuid, rows.Select(r => r.CustomerId).ToArray());
            cmd.Parameters.AddWithValue("at", rows.Select(r => r.OccurredAt).ToArray());
            cmd.Parameters.AddWithValue("bodies", rows.Select(r => r.Body).ToArray());
            return cmd;
        }
    }

    /// <summary>
    /// Erasure: the customers' events leave the log (feed and replay), and so do other events naming them (a merge or split
    /// with another customer), except the customer.erased that tells of it.
    /// </summary>
    public static async Task Forget(Session session, string tenantId, IReadOnlyList<Guid> customerIds, CancellationToken ct)
    {
        await using var cmd = session.Command("""
            delete from event_log where tenant_id = @tenant and type <> 'customer.erased'
                and (customer_id = any(@customers) or exists (select 1 from unnest(@named) n where strpos(body, n) > 0))
            """);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        cmd.Parameters.AddWithValue("customers", customerIds.ToArray());
        cmd.Parameters.AddWithValue("named", customerIds.Select(id => id.ToString()).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapFeed(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapGet("/v1/feed", Read).WithName("ReadFeed")
            .Documented("Every subscribable event of the tenant in commit order, for consumers that pull rather than take pushes.",
                "Without after it starts at the oldest retained event. Pass the answer's next as after to read on (and to poll: an empty page "
                + "gives next unchanged). The cursor never skips an event nor repeats one: positions are assigned as events commit, one writer at a time. Events are kept "
                + "for the retention (30 days by default); an after older than that answers 410.")
            .Paged("Events", DefaultLimit, MaxLimit, cursor: "The next of the previous page.")
            .Query("types", JsonSchemaType.String, "Comma-separated event types to include (default all); the cursor moves past the others.")
            .Answers(StatusCodes.Status200OK, "A page of events.")
            .Answers(StatusCodes.Status400BadRequest, "ValidationProblemDetails: after, types or limit is not valid.")
            .Answers(StatusCodes.Status410Gone, "ProblemDetails: events after that cursor were deleted by retention; start again without after.");
        return app;
    }

    internal static async Task<Results<Ok<FeedPage>, ProblemHttpResult, ValidationProblem>> Read([AsParameters] PageRequest page, HttpContext http,
        Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var query = http.Request.Query;
        var errors = new Dictionary<string, string[]>();
        var after = page.PositionCursor(errors, "must be the next of a previous page");
        var limit = page.Size(DefaultLimit, MaxLimit, errors);
        string[]? types = null;
        if (query.ContainsKey("types"))
        {
            types = [.. query["types"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            if (types.Length == 0 || types.FirstOrDefault(t => !WebhookTypes.Subscribable.Contains(t)) is { } unknown)
            {
                errors["types"] = [$"must name types among {string.Join(", ", WebhookTypes.Subscribable)}"];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        await using (var horizon = new NpgsqlCommand("select deleted_through from event_log_retention", connection))
        {
            if (after is { } from && await horizon.ExecuteScalarAsync(ct) is long deleted && from < deleted)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status410Gone, title: "Past retention",
                    detail: $"after: events up to position {deleted} were deleted by retention; read again without after.");
            }
        }
        // Scanned in position order: the page holds the wanted types, and next moves past what was scanned, wanted or not.
        await using var cmd = new NpgsqlCommand("""
            select position, type, body from event_log
            where tenant_id = @tenant and position is not null and position > @after
            order by position limit @scan
            """, connection);
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("after", after ?? 0);
        cmd.Parameters.AddWithValue("scan", limit * (types is null ? 1 : 10));
        var items = new List<FeedItem>();
        long? last = after;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (items.Count < limit && await reader.ReadAsync(ct))
        {
            last = reader.GetInt64(0);
            if (types is null || types.Contains(reader.GetString(1)))
            {
                items.Add(new FeedItem(last.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), JsonNode.Parse(reader.GetString(2))!));
            }
        }
        return TypedResults.Ok(new FeedPage(items, (last ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }
}

/// <summary>
/// Deletes what is past retention, and gives feed positions to committed events that have none: those a writer of the
/// shape before positions were taken at commit logged during a rolling upgrade (under the same lock as the writers).
/// </summary>
internal sealed partial class EventLogSequencer(NpgsqlDataSource dataSource, MigrationState migrations,
    IOptions<EventLogOptions> options, ILogger<EventLogSequencer> logger) : BackgroundService
{
    /// <summary>The log's lock: whoever gives positions holds it until commit, whatever the instance.</summary>
    internal const long LockKey = 0x436f6e7461637473;
    private static readonly TimeSpan RetentionEvery = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        var lastRetention = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Sequence(stoppingToken);
                if (DateTimeOffset.UtcNow - lastRetention > RetentionEvery)
                {
                    await Retain(stoppingToken);
                    lastRetention = DateTimeOffset.UtcNow;
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, ex.Message);
            }
            await Task.Delay(options.Value.SequenceInterval, stoppingToken);
        }
    }

    /// <summary>Positions for every event committed and not yet sequenced; false when another instance holds the sequencer.</summary>
    internal async Task<bool> Sequence(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Only rows a writer of the old shape logged lack a position: most passes find none (one look at a partial
        // index) and take no lock.
        await using (var any = new NpgsqlCommand("select exists (select 1 from event_log where position is null)", connection))
        {
            if (await any.ExecuteScalarAsync(ct) is not true)
            {
                return true;
            }
        }
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var locked = new NpgsqlCommand("select pg_try_advisory_xact_lock(@key)", connection, tx))
        {
            locked.Parameters.AddWithValue("key", LockKey);
            if (await locked.ExecuteScalarAsync(ct) is not true)
            {
                return false;
            }
        }
        await using (var cmd = new NpgsqlCommand("""
            update event_log e set position = s.position
            from (select id, nextval('event_log_position') as position
                  from (select id from event_log where position is null order by id limit 10000) unsequenced) s
            where e.id = s.id
            """, connection, tx))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    private async Task Retain(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            with gone as (delete from event_log where created_at < now() - @retention and position is not null returning position)
            update event_log_retention set deleted_through = greatest(deleted_through, (select max(position) from gone))
            where exists (select 1 from gone)
            """);
        cmd.Parameters.AddWithValue("retention", options.Value.Retention);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event log pass failed: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
