using System.ComponentModel;
using System.Text.Json;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
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
        var hours = (await connection.QueryAsync<HourRow>(new CommandDefinition("""
                select source, hour, accepted, refused from source_hours where tenant_id = @tenant and hour > now() - interval '24 hours' order by source, hour
                """, new { tenant }, cancellationToken: ct)))
            .ToLookup(h => h.Source, h => new SourceHour(h.Hour, h.Accepted, h.Refused));
        var sources = (await connection.QueryAsync<StateRow>(new CommandDefinition("""
                select source, last_event_at as lasteventat, last_refused_at as lastrefusedat, silent, silent_since as silentsince
                from source_state where tenant_id = @tenant order by source
                """, new { tenant }, cancellationToken: ct)))
            .Select(r =>
            {
                var day = hours[r.Source].ToList();
                return new SourceView(r.Source, r.LastEventAt, r.LastRefusedAt, r.Silent, r.SilentSince, day.Sum(h => h.Accepted),
                    day.Sum(h => h.Refused), day);
            })
            .ToList();
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
        await using var connection = database.DataSource.CreateConnection();
        await connection.ExecuteAsync(new CommandDefinition(settings?.SilentAfterSeconds is null
            ? "delete from source_settings where tenant_id = @tenant"
            : """
              insert into source_settings (tenant_id, silent_after_seconds) values (@tenant, @gap)
              on conflict (tenant_id) do update set silent_after_seconds = excluded.silent_after_seconds, updated_at = now()
              """, new { tenant, gap = settings?.SilentAfterSeconds ?? 0 }, cancellationToken: ct));
        return TypedResults.Ok(new SourceSettings(settings?.SilentAfterSeconds ?? (int)options.Value.SilentAfter.TotalSeconds));
    }

    private static async Task<int> Gap(NpgsqlConnection connection, string tenant, SourceOptions options, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "select silent_after_seconds from source_settings where tenant_id = @tenant", new { tenant }, cancellationToken: ct))
        ?? (int)options.SilentAfter.TotalSeconds;

    private sealed record HourRow(string Source, DateTimeOffset Hour, int Accepted, int Refused);

    private sealed record StateRow(string Source, DateTimeOffset? LastEventAt, DateTimeOffset? LastRefusedAt, bool Silent, DateTimeOffset? SilentSince);
}
