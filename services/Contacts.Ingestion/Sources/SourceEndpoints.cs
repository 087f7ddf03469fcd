using System.ComponentModel;
using System.Text.Json;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Ingestion.Sources;

/// <summary>The tenant's gap: a source quiet for longer is silent (source.silent once, source.recovered when it sends again).</summary>
public sealed record SourceSettings(
    [property: Description("Seconds of quiet after which a source that was sending is silent: 1 to 604800 (a week).")] int? SilentAfterSeconds)
{
    public static readonly TimeSpan DefaultSilentAfter = TimeSpan.FromMinutes(30);
    public const int Longest = 604_800;
}

public sealed record SourceHour(DateTimeOffset Hour, int Accepted, int Refused);

/// <summary>One platform source of the tenant: when it last sent, whether it is silent, and its last day hour by hour.</summary>
public sealed record SourceView(
    [property: Description("The source as events name it (amazon-connect, zendesk, or the source of canonical events).")] string Source,
    DateTimeOffset? LastEventAt,
    [property: Description("When a request from it was last refused (bad signature, invalid payload).")] DateTimeOffset? LastRefusedAt,
    [property: Description("Quiet for longer than the tenant's gap since it last sent.")] bool Silent,
    DateTimeOffset? SilentSince,
    [property: Description("Accepted events over the last 24 hours.")] int Accepted24h,
    [property: Description("Refused requests over the last 24 hours.")] int Refused24h,
    [property: Description("The last 24 hours, hour by hour (hours with nothing are left out).")] IReadOnlyList<SourceHour> Hours);

public sealed record SourcesView(
    [property: Description("The tenant's gap in seconds.")] int SilentAfterSeconds,
    IReadOnlyList<SourceView> Sources);

/// <summary>Source health for the tenant: what each platform source sends and refuses, and the gap that makes it silent.</summary>
public static class SourceEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowDuplicateProperties = false };

    public static IEndpointRouteBuilder MapSources(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapGet("/v1/sources", List).WithName("ListSources")
            .Documented("Each platform source of the tenant: last event, whether it is silent, accepted events and refused requests per hour over "
                + "the last day (counts are written every few seconds).")
            .Answers(StatusCodes.Status200OK, "The tenant's sources, by name.");
        scoped.MapGet("/v1/settings/sources", GetSettings).WithName("GetSourceSettings")
            .Documented("The tenant's gap: a source quiet for longer is silent.")
            .Answers(StatusCodes.Status200OK, "The settings.");
        scoped.MapPut("/v1/settings/sources", PutSettings).WithName("PutSourceSettings")
            .Documented("Sets the tenant's gap (silentAfterSeconds, 1 to 604800; null for the deployment's default of 30 minutes).")
            .Accepts<SourceSettings>("application/json")
            .Answers(StatusCodes.Status200OK, "The settings now.")
            .Answers(StatusCodes.Status400BadRequest, "ValidationProblemDetails: silentAfterSeconds out of range.")
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    internal static async Task<Results<Ok<SourcesView>, ProblemHttpResult>> List(HttpContext http, Database database, IOptions<SourceOptions> options, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        var gap = await Gap(connection, tenant, options.Value, ct);
        var hours = new Dictionary<string, List<SourceHour>>();
        await using (var cmd = new NpgsqlCommand("""
            select source, hour, accepted, refused from source_hours where tenant_id = @tenant and hour > now() - interval '24 hours' order by source, hour
            """, connection))
        {
            cmd.Parameters.AddWithValue("tenant", tenant);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                (hours.TryGetValue(reader.GetString(0), out var list) ? list : hours[reader.GetString(0)] = [])
                    .Add(new SourceHour(reader.GetFieldValue<DateTimeOffset>(1), reader.GetInt32(2), reader.GetInt32(3)));
            }
        }
        var sources = new List<SourceView>();
        await using (var cmd = new NpgsqlCommand("""
            select source, last_event_at, last_refused_at, silent, silent_since from source_state where tenant_id = @tenant order by source
            """, connection))
        {
            cmd.Parameters.AddWithValue("tenant", tenant);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var day = hours.GetValueOrDefault(reader.GetString(0)) ?? [];
                sources.Add(new SourceView(reader.GetString(0), Time(reader, 1), Time(reader, 2), reader.GetBoolean(3), Time(reader, 4),
                    day.Sum(h => h.Accepted), day.Sum(h => h.Refused), day));
            }
        }
        return TypedResults.Ok(new SourcesView(gap, sources));
    }

    internal static async Task<Results<Ok<SourceSettings>, ProblemHttpResult>> GetSettings(HttpContext http, Database database,
        IOptions<SourceOptions> options, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        return TypedResults.Ok(new SourceSettings(await Gap(connection, tenant, options.Value, ct)));
    }

    internal static async Task<Results<Ok<SourceSettings>, ProblemHttpResult, ValidationProblem>> PutSettings(HttpContext http, Database database,
        IOptions<SourceOptions> options, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var (settings, refusal) = await JsonBody.ReadRequest<SourceSettings>(http.Request, Json, ct);
        if (refusal is not null)
        {
            return refusal;
        }
        if (settings?.SilentAfterSeconds is < 1 or > SourceSettings.Longest)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["silentAfterSeconds"] = [$"must be a whole number of seconds from 1 to {SourceSettings.Longest} (a week), or null for the default"],
            });
        }
        await using var cmd = database.DataSource.CreateCommand(settings?.SilentAfterSeconds is null
            ? "delete from source_settings where tenant_id = @tenant"
            : """
              insert into source_settings (tenant_id, silent_after_seconds) values (@tenant, @gap)
              on conflict (tenant_id) do update set silent_after_seconds = excluded.silent_after_seconds, updated_at = now()
              """);
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("gap", settings?.SilentAfterSeconds ?? 0);
        await cmd.ExecuteNonQueryAsync(ct);
        return TypedResults.Ok(new SourceSettings(settings?.SilentAfterSeconds ?? (int)options.Value.SilentAfter.TotalSeconds));
    }

    private static async Task<int> Gap(NpgsqlConnection connection, string tenant, SourceOptions options, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("select silent_after_seconds from source_settings where tenant_id = @tenant", connection);
        cmd.Parameters.AddWithValue("tenant", tenant);
        return await cmd.ExecuteScalarAsync(ct) as int? ?? (int)options.SilentAfter.TotalSeconds;
    }

    private static DateTimeOffset? Time(NpgsqlDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);

}
