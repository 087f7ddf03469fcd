using System.Text.Json;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Alerting.Settings;

/// <summary>A tenant's alert rules: its own when it has set them, else the deployment's defaults.</summary>
public sealed class AlertingSettingsStore(IOptions<AlertRuleOptions> defaults)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public AlertingSettings Defaults => defaults.Value.ToSettings();

    private const string Select = "select settings::text from alerting_settings where tenant_id = @tenant";

    public async Task<AlertingSettings> For(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenantId, CancellationToken ct) =>
        From(await connection.ExecuteScalarAsync<string?>(new CommandDefinition(Select, new { tenant = tenantId }, transaction, cancellationToken: ct)));

    /// <summary>The read of For as a statement of someone else's batch, so a decision reads its rules without a round trip of its own.</summary>
    public static NpgsqlBatchCommand Query(string tenantId)
    {
        var cmd = new NpgsqlBatchCommand(Select);
        cmd.Parameters.AddWithValue("tenant", tenantId);
        return cmd;
    }

    /// <summary>The rules from the value Query read: the tenant's own, or the defaults when it has none.</summary>
    public AlertingSettings From(object? value) => value is string json ? JsonSerializer.Deserialize<AlertingSettings>(json, Json)! : Defaults;

    public static Task Save(NpgsqlConnection connection, string tenantId, AlertingSettings settings, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            insert into alerting_settings (tenant_id, settings) values (@tenant, @settings::jsonb)
            on conflict (tenant_id) do update set settings = excluded.settings, updated_at = now()
            """, new { tenant = tenantId, settings = JsonSerializer.Serialize(settings, Json) }, cancellationToken: ct));
}

public static class AlertingSettingsEndpoints
{
    public static IEndpointRouteBuilder MapAlertingSettings(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapGet("/v1/settings/alerting", Get).WithName("GetAlertingSettings")
            .Documented("The tenant's alert rules (the deployment's defaults until set).")
            .Answers(StatusCodes.Status200OK, "The rules.");
        scoped.MapPut("/v1/settings/alerting", Put).WithName("PutAlertingSettings")
            .Documented("Replace the tenant's alert rules (fields left out take the defaults); they apply from the next score decided.")
            .Accepts<AlertingSettings>("application/json")
            .Answers(StatusCodes.Status200OK, "The rules as stored.");
        return app;
    }

    internal static async Task<Results<Ok<AlertingSettings>, ProblemHttpResult>> Get(
        HttpContext http, Database database, AlertingSettingsStore store, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        return TypedResults.Ok(await store.For(connection, null, tenant, ct));
    }

    /// <summary>Replaces the tenant's rules (fields left out take the defaults); they apply to the next score decided.</summary>
    internal static async Task<Results<Ok<AlertingSettings>, ProblemHttpResult, ValidationProblem>> Put(
        HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        using var reader = new StreamReader(http.Request.Body);
        var (settings, errors) = AlertingSettingsValidation.Parse(await reader.ReadToEndAsync(ct));
        if (settings is null)
        {
            return TypedResults.ValidationProblem(errors);
        }
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        await AlertingSettingsStore.Save(connection, tenant, settings, ct);
        return TypedResults.Ok(settings);
    }

}
