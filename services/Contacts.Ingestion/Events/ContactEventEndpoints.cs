using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Ingestion.Events;

public static partial class ContactEventEndpoints
{
    // Numbers must be JSON numbers: the web defaults would read "NaN" or "12" from a string.
    // A member given twice is refused before this reads anything (JsonAmbiguity names it); refusing here too keeps it refused.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.Strict,
        AllowDuplicateProperties = false,
    };

    /// <summary>Largest single event, and largest batch (bytes and events).</summary>
    public const int MaxEventBytes = 64 * 1024;
    public const int MaxBatchBytes = 1024 * 1024;
    public const int MaxBatchEvents = 500;

    public static IEndpointRouteBuilder MapContactEvents(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapPost("/v1/events", Accept).WithName("AcceptContactEvent")
            .Documented("Push one canonical contact event (at most 64 KiB).")
            .Accepts<ContactEventV1>("application/json")
            .Produces<Accepted>(StatusCodes.Status202Accepted)
            .Answers(StatusCodes.Status202Accepted, "Accepted; a repeat of (source, sourceEventId) answers the first id with duplicate=true and is not published again.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        scoped.MapPost("/v1/events/batch", AcceptBatch).WithName("AcceptContactEventBatch")
            .Documented("Push up to 500 events (at most 1 MiB); each item gets its own result, valid ones are stored even when others are not.")
            .Accepts<ContactEventBatch>("application/json")
            .Produces<BatchResult>()
            .Answers(StatusCodes.Status200OK, "Per-item results, in order.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    /// <summary>A batch request: {"events": [...]}, 1 to 500 canonical events.</summary>
    public sealed record ContactEventBatch([property: MinLength(1), MaxLength(MaxBatchEvents)] IReadOnlyList<ContactEventV1> Events);

    public sealed record Accepted(Guid Id, bool Duplicate);

    /// <summary>One item of a batch: 202 with its id, or 400 with what was wrong with it.</summary>
    public sealed record BatchItemResult(int Index, int Status, Guid? Id, bool? Duplicate, IDictionary<string, string[]>? Errors);

    public sealed record BatchResult(int Accepted, int Rejected, IReadOnlyList<BatchItemResult> Results);

    internal static async Task<Results<Accepted<Accepted>, ProblemHttpResult, ValidationProblem>> Accept(HttpContext http, Database database,
        TimeProvider clock, Sources.SourceActivity sources, CancellationToken ct)
    {
        var (tenantId, body, bytes, refusal) = await ReadRequest(http, MaxEventBytes, ct);
        if (refusal is not null)
        {
            return refusal.Problem is { } refused ? refused : refusal.Invalid!;
        }
        if (JsonAmbiguity.Find(bytes, ignoreCase: true) is { Count: > 0 } ambiguous)
        {
            return TypedResults.ValidationProblem(Errors(ambiguous), title: "The contact event is ambiguous");
        }
        var (validation, problem) = Parse(body!.RootElement, tenantId!, clock.GetUtcNow());
        if (problem is not null)
        {
            CountRefused(sources, tenantId!, body.RootElement);
            return TypedResults.ValidationProblem(problem, title: "The contact event is not valid");
        }
        var (id, duplicate) = await database.InTransactionTogether(StoreTogether, session => Store(session, validation!, ct), ct);
        sources.Accepted(tenantId!, validation!.Source);
        return TypedResults.Accepted((string?)null, new Accepted(id, duplicate));
    }

    /// <summary>
    /// Up to 500 events (1 MiB) in one request: {"events": [...]}. Each is validated on its own; the valid ones are stored
    /// in one transaction, and the answer lists every item's outcome in order.
    /// </summary>
    internal static async Task<Results<Ok<BatchResult>, ProblemHttpResult, ValidationProblem>> AcceptBatch(HttpContext http, Database database,
        TimeProvider clock, Sources.SourceActivity sources, CancellationToken ct)
    {
        var (tenantId, body, bytes, refusal) = await ReadRequest(http, MaxBatchBytes, ct);
        if (refusal is not null)
        {
            return refusal.Problem is { } refused ? refused : refusal.Invalid!;
        }
        // A member given twice inside an item refuses that item; anywhere else (two "events"), the whole batch.
        var ambiguousItems = new Dictionary<int, List<JsonAmbiguityProblem>>();
        var ambiguousBatch = new List<JsonAmbiguityProblem>();
        foreach (var found in JsonAmbiguity.Find(bytes, ignoreCase: true, limit: int.MaxValue))
        {
            if (BatchItemPath().Match(found.Field) is { Success: true } item && int.TryParse(item.Groups[1].Value, out var index))
            {
                (ambiguousItems.TryGetValue(index, out var list) ? list : ambiguousItems[index] = []).Add(found with { Field = item.Groups[2].Success ? item.Groups[2].Value : "body" });
            }
            else
            {
                ambiguousBatch.Add(found);
            }
        }
        if (ambiguousBatch.Count > 0)
        {
            return TypedResults.ValidationProblem(Errors(ambiguousBatch), title: "The batch is ambiguous");
        }
        if (body!.RootElement.ValueKind != JsonValueKind.Object || !body.RootElement.TryGetProperty("events", out var events)
            || events.ValueKind != JsonValueKind.Array)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["events"] = ["is required: an array of contact events"] },
                title: "The body is not a batch of contact events");
        }
        var count = events.GetArrayLength();
        if (count == 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["events"] = ["must hold at least one event"] });
        }
        if (count > MaxBatchEvents)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Batch too large",
                detail: $"events: at most {MaxBatchEvents} per batch; got {count}. Split it.");
        }

        var now = clock.GetUtcNow();
        var parsed = events.EnumerateArray().Select((e, i) => ambiguousItems.TryGetValue(i, out var ambiguous)
            ? (Event: (ContactEventReceived?)null, Problem: (Dictionary<string, string[]>?)Errors(ambiguous))
            : Parse(e, tenantId!, now)).ToList();
        var stored = await database.InTransactionTogether(StoreTogether, async session =>
        {
            var valid = parsed.Where(p => p.Problem is null).Select(p => p.Event!).ToList();
            var outcomes = valid.Count > 0 ? await StoreMany(session, valid, ct) : [];
            var (results, next) = (new List<BatchItemResult>(parsed.Count), 0);
            for (var i = 0; i < parsed.Count; i++)
            {
                if (parsed[i].Problem is { } problem)
                {
                    results.Add(new BatchItemResult(i, StatusCodes.Status400BadRequest, null, null, problem));
                    continue;
                }
                var (id, duplicate) = outcomes[next++];
                results.Add(new BatchItemResult(i, StatusCodes.Status202Accepted, id, duplicate, null));
            }
            return results;
        }, ct);
        var accepted = stored.Count(r => r.Status == StatusCodes.Status202Accepted);
        foreach (var bySource in parsed.Where(p => p.Event is not null).GroupBy(p => p.Event!.Source))
        {
            sources.Accepted(tenantId!, bySource.Key, bySource.Count());
        }
        var items = events.EnumerateArray().ToList();
        foreach (var refused in stored.Where(r => r.Status == StatusCodes.Status400BadRequest))
        {
            CountRefused(sources, tenantId!, items[refused.Index]);
        }
        return TypedResults.Ok(new BatchResult(accepted, stored.Count - accepted, stored));
    }

    /// <summary>A refused event counts against its source when it names one that could be a source (otherwise no source is known).</summary>
    private static void CountRefused(Sources.SourceActivity sources, string tenant, JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.String)
        {
            return;
        }
        string? name;
        try
        {
            name = source.GetString();
        }
        catch (InvalidOperationException)
        {
            return; // a lone surrogate: no source anyone could name (the event was refused for it already)
        }
        if (name is not null && SourceName().IsMatch(name))
        {
            sources.Refused(tenant, name);
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9._-]{1,64}$")]
    private static partial System.Text.RegularExpressions.Regex SourceName();

    /// <summary>Ambiguities as validation errors, each field named as the canonical event spells it.</summary>
    private static Dictionary<string, string[]> Errors(IEnumerable<JsonAmbiguityProblem> problems) =>
        problems.GroupBy(p => ContactEventShape.Canonical(p.Field)).ToDictionary(g => g.Key, g => g.Select(p => p.Rule).Distinct().ToArray());

    [System.Text.RegularExpressions.GeneratedRegex(@"^events\[([0-9]+)\](?:\.(.+))?$")]
    private static partial System.Text.RegularExpressions.Regex BatchItemPath();

    /// <summary>The tenant, the JSON body and its bytes, or the answer that refuses the request (413, 415, 400).</summary>
    private static async Task<(string? Tenant, JsonDocument? Body, byte[] Bytes, Refusal? Refusal)> ReadRequest(
        HttpContext http, int maxBytes, CancellationToken ct)
    {
        var tenantId = TenantScope.Of(http);
        if (!http.Request.HasJsonContentType())
        {
            return (null, null, [], new Refusal(TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported content type",
                detail: $"Content-Type must be application/json; got '{http.Request.ContentType}'."), null));
        }
        if (await ReadLimited(http.Request, maxBytes, ct) is not { } bytes)
        {
            return (null, null, [], new Refusal(TooLarge(maxBytes), null));
        }
        try
        {
            return (tenantId, JsonDocument.Parse(bytes), bytes, null);
        }
        catch (JsonException ex)
        {
            var where = $"(line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})";
            return (null, null, [], new Refusal(null, TypedResults.ValidationProblem(ContactEventShape.PathOfSyntaxError(bytes) is { } field
                ? new Dictionary<string, string[]> { [field] = [$"is not valid JSON {where}: numbers must be finite JSON numbers (NaN and Infinity are not JSON), strings in double quotes"] }
                : new Dictionary<string, string[]> { ["body"] = [$"is not valid JSON {where}"] },
                title: "The body is not valid JSON")));
        }
    }

    /// <summary>The raw body, or null when it is over the limit; a chunked body without a length is held to the same limit.</summary>
    internal static async Task<byte[]?> ReadLimited(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes)
            {
                return null;
            }
        }
        return buffer.ToArray();
    }

    /// <summary>Why a body was not read: a problem (415, 413) or the JSON it is not (400 naming where).</summary>
    private sealed record Refusal(ProblemHttpResult? Problem, ValidationProblem? Invalid);

    internal static ProblemHttpResult TooLarge(int maxBytes) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large",
            detail: $"body: at most {maxBytes} bytes.");

    /// <summary>One event from JSON: the normalised event, or the errors keyed by field.</summary>
    internal static (ContactEventReceived? Event, Dictionary<string, string[]>? Problem) Parse(JsonElement element, string tenantId, DateTimeOffset now)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return (null, new Dictionary<string, string[]> { ["body"] = ["must be a JSON object"] });
        }
        var wrongTypes = ContactEventShape.Check(element);
        if (wrongTypes.Count > 0)
        {
            // The other fields are still judged, so one answer names everything that is wrong.
            var rest = ContactEventShape.Without(element, wrongTypes.Keys);
            var others = rest is null ? [] : Parse(rest.Value, tenantId, now).Problem ?? [];
            foreach (var (field, rules) in wrongTypes)
            {
                others[field] = rules;
            }
            return (null, others);
        }
        ContactEventV1 input;
        try
        {
            input = element.Deserialize<ContactEventV1>(Json)!;
        }
        catch (JsonException ex)
        {
            // The shape check should have caught it; this keeps a gap in it a 400 rather than a 500.
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ContactEventShape.Canonical(ex.Path.TrimStart('$', '.'));
            return (null, new Dictionary<string, string[]> { [field] = ["has the wrong JSON type or a value this field cannot hold"] });
        }
        var validation = ContactEventValidator.Validate(input, tenantId, Guid.CreateVersion7(), now);
        return validation.IsValid ? (validation.Event, null) : (null, validation.Errors);
    }

    /// <summary>
    /// Requests that store events share a transaction with the others waiting at the same moment (single events, batches and
    /// platform webhooks alike): under a burst one commit stores many, a request alone is stored at once.
    /// </summary>
    internal const string StoreTogether = "received events";

    /// <summary>
    /// Records the events under their (tenant, source, source event id) and publishes each one not seen before, in order,
    /// with one insert for all of them (and, when some were seen before, one read of the ids they were stored under).
    /// An event repeated within the list is stored once: its later copies are duplicates of the first.
    /// </summary>
    internal static async Task<IReadOnlyList<(Guid Id, bool Duplicate)>> StoreMany(Session session, IReadOnlyList<ContactEventReceived> events,
        CancellationToken ct)
    {
        if (events.Count == 1)
        {
            return [await Store(session, events[0], ct)];
        }
        var keys = new
        {
            tenants = events.Select(e => e.TenantId).ToArray(),
            sources = events.Select(e => e.Source).ToArray(),
            sourceEventIds = events.Select(e => e.SourceEventId).ToArray(),
        };
        var inserted = (await session.Query<Guid>("""
            insert into received_events (tenant_id, source, source_event_id, event_id, event)
            select t, s, se, i, e::jsonb from unnest(@tenants, @sources, @sourceEventIds, @ids, @bodies) with ordinality as u(t, s, se, i, e, n)
            order by n
            on conflict (tenant_id, source, source_event_id) do nothing
            returning event_id
            """, new
        {
            keys.tenants,
            keys.sources,
            keys.sourceEventIds,
            ids = events.Select(e => e.Id).ToArray(),
            bodies = events.Select(e => JsonSerializer.Serialize(e, Json)).ToArray(),
        }, ct)).ToHashSet();
        var seen = inserted.Count == events.Count
            ? []
            : (await session.Query<StoredKey>("""
                select r.tenant_id as tenantid, r.source, r.source_event_id as sourceeventid, r.event_id as eventid from received_events r
                join unnest(@tenants, @sources, @sourceEventIds) as k(t, s, se) on r.tenant_id = k.t and r.source = k.s and r.source_event_id = k.se
                """, keys, ct)).DistinctBy(r => (r.TenantId, r.Source, r.SourceEventId)).ToDictionary(r => (r.TenantId, r.Source, r.SourceEventId), r => r.EventId);
        var results = new List<(Guid, bool)>(events.Count);
        foreach (var e in events)
        {
            if (inserted.Contains(e.Id))
            {
                session.Publish(e, e.Id);
                results.Add((e.Id, false));
            }
            else
            {
                results.Add((seen[(e.TenantId, e.Source, e.SourceEventId)], true));
            }
        }
        return results;
    }

    private sealed record StoredKey(string TenantId, string Source, string SourceEventId, Guid EventId);

    /// <summary>Records the event under its (tenant, source, source event id) and publishes it, unless it was seen before.</summary>
    internal static async Task<(Guid Id, bool Duplicate)> Store(Session session, ContactEventReceived e, CancellationToken ct)
    {
        await using var insert = session.Command("""
            insert into received_events (tenant_id, source, source_event_id, event_id, event)
            values (@tenant, @source, @sourceEventId, @id, @event)
            on conflict (tenant_id, source, source_event_id) do nothing
            """);
        insert.Parameters.AddWithValue("tenant", e.TenantId);
        insert.Parameters.AddWithValue("source", e.Source);
        insert.Parameters.AddWithValue("sourceEventId", e.SourceEventId);
        insert.Parameters.AddWithValue("id", e.Id);
        insert.Parameters.AddWithValue("event", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(e, Json));
        if (await insert.ExecuteNonQueryAsync(ct) == 1)
        {
            session.Publish(e, e.Id);
            return (e.Id, false);
        }

        await using var existing = session.Command("""
            select event_id from received_events where tenant_id = @tenant and source = @source and source_event_id = @sourceEventId
            """);
        existing.Parameters.AddWithValue("tenant", e.TenantId);
        existing.Parameters.AddWithValue("source", e.Source);
        existing.Parameters.AddWithValue("sourceEventId", e.SourceEventId);
        return ((Guid)(await existing.ExecuteScalarAsync(ct))!, true);
    }
}
