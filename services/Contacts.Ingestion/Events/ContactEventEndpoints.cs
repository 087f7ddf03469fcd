using System.Text.Json;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Persistence;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using NpgsqlTypes;

namespace Contacts.Ingestion.Events;

public static class ContactEventEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapContactEvents(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/events", Accept).WithName("AcceptContactEvent");
        return app;
    }

    public sealed record Accepted(Guid Id, bool Duplicate);

    internal static async Task<Results<Accepted<Accepted>, ProblemHttpResult, ValidationProblem>> Accept(
        HttpContext http, Database database, IConfiguration configuration, TimeProvider clock, CancellationToken ct)
    {
        var tenantId = Tenant.Of(http, configuration["Internal:Key"]);
        if (tenantId is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "No tenant",
                detail: "Requests must come through the gateway with a tenant API key.");
        }
        if (!http.Request.HasJsonContentType())
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported content type",
                detail: $"Content-Type must be application/json; got '{http.Request.ContentType}'.");
        }

        ContactEventV1? input;
        try
        {
            input = await JsonSerializer.DeserializeAsync<ContactEventV1>(http.Request.Body, Json, ct);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.');
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [field] = [$"is not valid JSON for this field (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})"],
            }, title: "The body is not a valid contact event");
        }
        if (input is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["must be a JSON object, not null"] });
        }

        var validation = ContactEventValidator.Validate(input, tenantId, Guid.CreateVersion7(), clock.GetUtcNow());
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors, title: "The contact event is not valid");
        }

        var (id, duplicate) = await database.InTransaction(session => Store(session, validation.Event!, ct), ct);
        return TypedResults.Accepted((string?)null, new Accepted(id, duplicate));
    }

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
