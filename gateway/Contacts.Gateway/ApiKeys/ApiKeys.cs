using System.Security.Cryptography;
using System.Text;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Hosting;
using Dapper;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace Contacts.Gateway.ApiKeys;

internal static class ApiKeySchema
{
    public static readonly Migration[] Migrations =
    [
        new("gateway_0001_api_keys", """
            create table api_keys (
                id uuid primary key,
                tenant_id text not null,
                name text not null,
                key_hash bytea not null unique,
                created_at timestamptz not null default now(),
                revoked_at timestamptz);
            """),
        // Every change to a key, whoever makes it, tells the gateways listening (ApiKeyCache).
        new("gateway_0002_api_keys_notify", $$"""
            create function api_keys_changed() returns trigger language plpgsql as $fn$
            begin
                perform pg_notify('{{ApiKeyChangeListener.Channel}}', '');
                return null;
            end $fn$;
            create trigger api_keys_changed after update or delete or truncate on api_keys
                for each statement execute function api_keys_changed();
            """),
    ];
}

/// <summary>
/// Per-tenant API keys. Only SHA-256 hashes are stored: keys are 256 random bits, so a fast hash is enough (no
/// dictionary to guess from), and a stolen table cannot be replayed.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource, MigrationState migrations, ApiKeyCache cache)
{
    public const string Prefix = "ck_";

    public static string NewKey() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>The tenant a live key belongs to, or null: from the cache while it listens for changes, else from the table.</summary>
    public async Task<string?> TenantOf(string key, CancellationToken ct)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length > 100)
        {
            return null;
        }
        var hash = Hash(key);
        var cacheKey = Convert.ToBase64String(hash);
        if (cache.TenantOf(cacheKey) is { } cached)
        {
            return cached;
        }
        var generation = cache.Generation;
        await migrations.WaitAsync(ct);
        await using var connection = dataSource.CreateConnection();
        var tenant = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "select tenant_id from api_keys where key_hash = @hash and revoked_at is null", new { hash }, cancellationToken: ct));
        if (tenant is not null)
        {
            cache.Put(cacheKey, tenant, generation);
        }
        return tenant;
    }

    /// <summary>
    /// Stores a key's hash for a tenant; a key that already exists keeps its tenant and stays as it is (idempotent
    /// seeding): a configured key an operator revoked is not brought back by the next start.
    /// </summary>
    public async Task<Guid> Add(string tenantId, string name, string key, CancellationToken ct)
    {
        await migrations.WaitAsync(ct);
        await using var connection = dataSource.CreateConnection();
        return await connection.ExecuteScalarAsync<Guid>(new CommandDefinition("""
            insert into api_keys (id, tenant_id, name, key_hash) values (@id, @tenant, @name, @hash)
            on conflict (key_hash) do update set key_hash = excluded.key_hash
            returning id
            """, new { id = Guid.CreateVersion7(), tenant = tenantId, name, hash = Hash(key) }, cancellationToken: ct));
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Keys named in configuration ("Gateway:Keys:N:Tenant" and ":Key"), stored at start-up: how a deployment seeds its first tenants.</summary>
internal sealed class ApiKeySeeder(ApiKeyStore store, IConfiguration configuration) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var entry in configuration.GetSection("Gateway:Keys").GetChildren())
        {
            var (tenant, key) = (entry["Tenant"], entry["Key"]);
            if (!string.IsNullOrWhiteSpace(tenant) && !string.IsNullOrWhiteSpace(key))
            {
                await store.Add(tenant, entry["Name"] ?? "seeded", key, stoppingToken);
            }
        }
    }
}

public static class ApiKeySetup
{
    /// <summary>The keys' table (the gateway's schema, migrated at start-up) and the store over it: what tools/keys needs too.</summary>
    public static WebApplicationBuilder AddApiKeyStore(this WebApplicationBuilder builder)
    {
        builder.AddPostgres("gateway", ApiKeySchema.Migrations);
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeyCache>();
        return builder;
    }

    public static WebApplicationBuilder AddApiKeys(this WebApplicationBuilder builder)
    {
        builder.AddApiKeyStore();
        builder.Services.AddHostedService<ApiKeyChangeListener>();
        builder.Services.AddHostedService<ApiKeySeeder>();
        return builder;
    }
}
