using System.Text.Json;
using Contacts.Effort.Calibration;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.Effort.Settings;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Contacts.Effort.Reads;

public static class EffortEndpoints
{
    public static IEndpointRouteBuilder MapEffortReads(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapGet("/v1/customers/{id:guid}/effort", GetCustomerEffort).WithName("GetCustomerEffort")
            .Documented("The customer's effort: score (their worst open journey's), drivers with evidence, open and recent journeys with their "
                + "contacts, CES answers beside the predicted score.")
            .Parameter("id", "The customer's id (a merged id answers for the survivor).")
            .Answers(StatusCodes.Status200OK, "The customer's effort.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        scoped.MapGet("/v1/effort/calibration", GetCalibration).WithName("GetEffortCalibration")
            .Documented("Predicted effort against the customers' CES answers over the tenant's journeys: count, mean predicted score per CES value, "
                + "Spearman rank correlation (negative when high predicted effort meets low CES).")
            .Answers(StatusCodes.Status200OK, "The calibration.");
        scoped.MapGet("/v1/settings/effort", GetSettings).WithName("GetEffortSettings")
            .Documented("The tenant's effort settings (weights, thresholds, window), their version and the last replay.")
            .Answers(StatusCodes.Status200OK, "The settings.");
        scoped.MapPut("/v1/settings/effort", PutSettings).WithName("PutEffortSettings")
            .Documented("Replaces the tenant's effort settings (fields left out take their defaults) and re-scores every customer from their stored "
                + "contacts by replay. Answers 202 with a Location to poll; afterwards reads and new EffortScored use the new settings.")
            .Accepts<EffortSettings>("application/json")
            .Answers(StatusCodes.Status202Accepted, "Accepted; the replay runs in the background.")
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        scoped.MapGet("/v1/settings/effort/replays/{id:guid}", GetReplay).WithName("GetEffortReplay")
            .Documented("Progress of a re-scoring replay: running, done, or superseded by a later settings change.")
            .Parameter("id", "The replay's id, from the PUT's Location.")
            .Answers(StatusCodes.Status200OK, "The replay.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    internal static async Task<Results<Ok<CustomerEffortView>, ProblemHttpResult>> GetCustomerEffort(
        Guid id, HttpContext http, Database database, EffortStore store, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        // The survivor's snapshot in the same round trip as the chain that finds it.
        var row = await connection.QuerySingleOrDefaultAsync<SnapshotRow>(new CommandDefinition(SurvivorChain + """
            select c.customer_id as customerid, c.version, c.snapshot from chain join customer_effort c on c.customer_id = chain.customer_id
            where chain.merged_into is null
            """, new { id, tenant }, cancellationToken: ct));
        if (row is null)
        {
            return NotFound($"No effort is known for customer {id} in this tenant.");
        }
        var (customerId, version) = (row.CustomerId, row.Version);
        var events = JsonSerializer.Deserialize<List<ContactEvent>>(row.Snapshot, EffortStore.Json)!;
        var settings = await store.Settings(connection, null, tenant, ct);
        // Scored as of now: a journey quiet for the whole window reads as closed even before the next contact arrives.
        var asOf = new[] { DateTimeOffset.UtcNow, CustomerEffort.LatestOf(events) }.Max();
        return TypedResults.Ok(EffortViews.Of(customerId, version, CustomerEffort.Evaluate(events, settings, asOf)));
    }

    internal static async Task<Results<Ok<CalibrationReport>, ProblemHttpResult>> GetCalibration(
        HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = database.DataSource.CreateConnection();
        var pairs = await connection.QueryAsync<(int, int)>(new CommandDefinition(
            "select predicted, ces_score from journeys where tenant_id = @tenant and ces_score is not null", new { tenant }, cancellationToken: ct));
        return TypedResults.Ok(CalibrationReports.Compute([.. pairs]));
    }

    internal static async Task<Results<Ok<SettingsView>, ProblemHttpResult>> GetSettings(
        HttpContext http, Database database, EffortStore store, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        var settings = await store.Settings(connection, null, tenant, ct);
        var version = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "select version from effort_settings where tenant_id = @tenant", new { tenant }, cancellationToken: ct)) ?? 0;
        return TypedResults.Ok(new SettingsView(settings, version, await Replays.Latest(connection, tenant, ct)));
    }

    internal static async Task<Results<AcceptedAtRoute<ReplayView>, Accepted<ReplayView>, ProblemHttpResult, ValidationProblem>> PutSettings(
        HttpContext http, Database database, ReplaySignal signal, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var (settings, refusal) = await JsonBody.ReadRequest<EffortSettings>(http.Request, EffortStore.Json, ct);
        if (refusal is not null)
        {
            return refusal;
        }
        if (settings is null || settings.Weights is null || settings.Thresholds is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["must be an object with windowDays, weights and thresholds"] });
        }
        if (settings.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var replay = await database.InTransaction(session => Replays.Start(session, tenant, settings, ct), ct);
        signal.Notify();
        http.Response.Headers.Location = $"/v1/settings/effort/replays/{replay.Id}";
        return TypedResults.Accepted($"/v1/settings/effort/replays/{replay.Id}", replay);
    }

    internal static async Task<Results<Ok<ReplayView>, ProblemHttpResult>> GetReplay(
        Guid id, HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        return await Replays.Find(connection, tenant, id, ct) is { } replay ? TypedResults.Ok(replay) : NotFound($"No replay {id} in this tenant.");
    }

    /// <summary>The merge chain from @id in @tenant (customer_id, merged_into): its row with merged_into null is the survivor.</summary>
    private const string SurvivorChain = """
        with recursive chain as (
            select customer_id, merged_into, 0 as depth from customer_effort where customer_id = @id and tenant_id = @tenant
            union all
            select c.customer_id, c.merged_into, chain.depth + 1
            from customer_effort c join chain on c.customer_id = chain.merged_into where chain.depth < 100)

        """;

    /// <summary>The customer a (possibly merged) id stands for now in the tenant: the end of its merge chain; null when effort knows none.</summary>
    internal static Task<Guid?> Survivor(NpgsqlConnection connection, string tenant, Guid id, CancellationToken ct) =>
        connection.ExecuteScalarAsync<Guid?>(new CommandDefinition(
            SurvivorChain + "select customer_id from chain where merged_into is null", new { id, tenant }, cancellationToken: ct));

    internal static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);

    private sealed record SnapshotRow(Guid CustomerId, long Version, string Snapshot);
}
