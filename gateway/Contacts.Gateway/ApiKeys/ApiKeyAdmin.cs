using System.Security.Cryptography;
using System.Text;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.OpenApi;
using Dapper;
using Npgsql;

namespace Contacts.Gateway.ApiKeys;

/// <summary>A key as an operator sees it: never the key itself, which is shown once, at creation.</summary>
public sealed record ApiKeyView(Guid Id, string Tenant, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

public sealed record CreatedApiKey(Guid Id, string Tenant, string Name, string Key);

public sealed record CreateApiKeyRequest(string? Name);

/// <summary>Creating, listing and revoking tenant keys: over /admin (operator key) and as `Contacts.Gateway keys ...`.</summary>
public static class ApiKeyAdmin
{
    public static async Task<CreatedApiKey> Create(ApiKeyStore store, string tenant, string? name, CancellationToken ct)
    {
        var key = ApiKeyStore.NewKey();
        var id = await store.Add(tenant, string.IsNullOrWhiteSpace(name) ? "unnamed" : name.Trim(), key, ct);
        return new CreatedApiKey(id, tenant, name ?? "unnamed", key);
    }

    public static async Task<List<ApiKeyView>> List(NpgsqlDataSource db, string? tenant, CancellationToken ct)
    {
        await using var connection = db.CreateConnection();
        return (await connection.QueryAsync<ApiKeyView>(new CommandDefinition("""
            select id, tenant_id as tenant, name, created_at as createdat, revoked_at as revokedat from api_keys
            where @tenant::text is null or tenant_id = @tenant order by tenant_id, created_at
            """, new { tenant }, cancellationToken: ct))).AsList();
    }

    /// <summary>Revokes a key; false when there is no such key (or it was already revoked).</summary>
    public static async Task<bool> Revoke(NpgsqlDataSource db, Guid id, CancellationToken ct)
    {
        await using var connection = db.CreateConnection();
        return await connection.ExecuteAsync(new CommandDefinition(
            "update api_keys set revoked_at = now() where id = @id and revoked_at is null", new { id }, cancellationToken: ct)) == 1;
    }

    /// <summary>The admin API's keys part, open only to the operator key ("Gateway:OperatorKey"); absent that setting it is switched off.</summary>
    public static WebApplication MapApiKeyAdmin(this WebApplication app)
    {
        // The operator key is checked in front of every /admin route, these and the ones forwarded (TenantAdmission).
        var admin = app.MapGroup("/admin");
        admin.MapPost("/tenants/{tenant}/keys", async (string tenant, CreateApiKeyRequest? body, ApiKeyStore store, CancellationToken ct) =>
            TenantRule.Check(tenant) is { } error
                ? Results.ValidationProblem(new Dictionary<string, string[]> { ["tenant"] = [error] })
                : Results.Created((string?)null, await Create(store, tenant, body?.Name, ct)))
            .WithName("CreateApiKey")
            .Documented("Create a tenant API key (operator key required). The key is returned once; only its hash is stored.")
            .Parameter("tenant", "The tenant: 1-64 of a-z, 0-9, _ and -.")
            .Produces<CreatedApiKey>(StatusCodes.Status201Created)
            .Answers(StatusCodes.Status201Created, "Created.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .Answers(StatusCodes.Status403Forbidden, "ProblemDetails: the admin API is off (no Gateway:OperatorKey).");
        admin.MapGet("/tenants/{tenant}/keys", async (string tenant, NpgsqlDataSource db, CancellationToken ct) =>
            Results.Ok(await List(db, tenant, ct)))
            .WithName("ListApiKeys")
            .Documented("List a tenant's keys (never the keys themselves).")
            .Produces<List<ApiKeyView>>()
            .Answers(StatusCodes.Status200OK, "The keys.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .Answers(StatusCodes.Status403Forbidden, "ProblemDetails: the admin API is off (no Gateway:OperatorKey).");
        // The table's trigger tells every gateway; this one also forgets at once, before it answers.
        admin.MapDelete("/keys/{id:guid}", async (Guid id, NpgsqlDataSource db, ApiKeyCache cache, CancellationToken ct) =>
            {
                if (!await Revoke(db, id, ct))
                {
                    return Results.Problem(statusCode: 404, title: "Not found", detail: $"No live key {id}.");
                }
                cache.Invalidate();
                return Results.NoContent();
            })
            .WithName("RevokeApiKey")
            .Documented("Revoke a key; it stops working at once.")
            .Produces(StatusCodes.Status204NoContent)
            .Answers(StatusCodes.Status204NoContent, "Revoked.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .Answers(StatusCodes.Status403Forbidden, "ProblemDetails: the admin API is off (no Gateway:OperatorKey).");
        return app;
    }

    /// <summary>`tools/keys create|list|revoke` (tools/Contacts.Keys): the documented command for operators with database access.</summary>
    public static async Task<int> RunCommand(string[] args, IServiceProvider services)
    {
        await services.EnsureSchemaAsync();
        var store = services.GetRequiredService<ApiKeyStore>();
        var db = services.GetRequiredService<NpgsqlDataSource>();
        string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        switch (args.ElementAtOrDefault(0))
        {
            case "create" when Option("--tenant") is { } tenant:
                if (TenantRule.Check(tenant) is { } error)
                {
                    await Console.Error.WriteLineAsync($"--tenant: {error}");
                    return 2;
                }
                var created = await Create(store, tenant, Option("--name"), CancellationToken.None);
                Console.WriteLine($"id:     {created.Id}\ntenant: {created.Tenant}\nkey:    {created.Key}\n(the key is shown only now; only its hash is stored)");
                return 0;
            case "list":
                foreach (var key in await List(db, Option("--tenant"), CancellationToken.None))
                {
                    Console.WriteLine($"{key.Id}  {key.Tenant,-20} {key.Name,-20} created {key.CreatedAt:u}{(key.RevokedAt is { } r ? $"  revoked {r:u}" : "")}");
                }
                return 0;
            case "revoke" when Guid.TryParse(Option("--id"), out var id):
                var revoked = await Revoke(db, id, CancellationToken.None);
                Console.WriteLine(revoked ? $"revoked {id}" : $"no live key {id}");
                return revoked ? 0 : 1;
            default:
                await Console.Error.WriteLineAsync("usage: tools/keys create --tenant TENANT [--name NAME] | list [--tenant TENANT] | revoke --id ID");
                return 2;
        }
    }
}

/// <summary>Tenant ids are slugs: they appear in logs, metrics and URLs.</summary>
public static class TenantRule
{
    public static string? Check(string tenant) =>
        tenant.Length is >= 1 and <= 64 && tenant.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_')
            ? null
            : "must be 1 to 64 lower-case letters, digits, '-' or '_'";
}
