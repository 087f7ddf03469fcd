using System.Text.Json;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Contacts.Identity.Settings;

/// <summary>GET/PUT /v1/settings/identity: the tenant's default phone region and identity rules.</summary>
public static class SettingsEndpoints
{
    public const int MaxBodyBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapIdentitySettings(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapGet("/v1/settings/identity", Get).WithName("GetIdentitySettings")
            .Documented("The tenant's effective identity settings (defaults where it set nothing).")
            .Produces<IdentitySettings>()
            .Answers(StatusCodes.Status200OK, "Effective settings.");
        scoped.MapPut("/v1/settings/identity", Put).WithName("PutIdentitySettings")
            .Documented("Replace the tenant's identity settings; a field left out takes its default. Answers the effective settings.")
            .Accepts<IdentitySettingsInput>("application/json")
            .Produces<IdentitySettings>()
            .Answers(StatusCodes.Status200OK, "Effective settings.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    internal static async Task<Ok<IdentitySettings>> Get(HttpContext http, SettingsStore store, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        return TypedResults.Ok(IdentitySettings.Effective(await store.Stored(tenant, ct)));
    }

    /// <summary>Replaces the tenant's settings; fields left out take their defaults. Answers the effective settings.</summary>
    internal static async Task<Results<Ok<IdentitySettings>, ProblemHttpResult, ValidationProblem>> Put(HttpContext http, SettingsStore store,
        CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large", detail: $"at most {MaxBodyBytes} bytes");
        }
        if (http.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Not JSON",
                detail: "Content-Type must be application/json");
        }
        IdentitySettingsInput? input;
        try
        {
            input = await JsonSerializer.DeserializeAsync<IdentitySettingsInput>(http.Request.Body, SettingsJson.Options, ct);
        }
        catch (JsonException ex)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [JsonBody.Field(ex)] = ["must be JSON of the documented shape: {defaultRegion: string|null, limits: {type: 1..1000}, priority: [type], blocked: {type: [value]}}"],
            }, title: "The identity settings are not valid");
        }
        if (input is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["must be a JSON object"] });
        }
        var errors = IdentitySettings.Validate(input);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The identity settings are not valid");
        }
        await store.Save(tenant, input, ct);
        return TypedResults.Ok(IdentitySettings.Effective(input));
    }
}

internal static class Problems
{
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);
}
