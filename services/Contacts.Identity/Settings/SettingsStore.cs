using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Contacts.Identity.Stitching;
using Contacts.Messaging.Persistence;
using NpgsqlTypes;

namespace Contacts.Identity.Settings;

/// <summary>Tenants' identity settings, cached for a couple of seconds (every instance picks a change up within that).</summary>
public sealed class SettingsStore(Database database)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, (IdentityRules Rules, long LoadedAt)> _cache = new();

    public async Task<IdentityRules> Rules(string tenant, CancellationToken ct)
    {
        if (_cache.TryGetValue(tenant, out var cached) && Stopwatch.GetElapsedTime(cached.LoadedAt) < CacheFor)
        {
            return cached.Rules;
        }
        var rules = new IdentityRules(IdentitySettings.Effective(await Stored(tenant, ct)));
        _cache[tenant] = (rules, Stopwatch.GetTimestamp());
        return rules;
    }

    public async Task<IdentitySettingsInput?> Stored(string tenant, CancellationToken ct)
    {
        await using var cmd = database.DataSource.CreateCommand("select settings::text from identity_settings where tenant_id = @tenant");
        cmd.Parameters.AddWithValue("tenant", tenant);
        return await cmd.ExecuteScalarAsync(ct) is string json ? IdentitySettings.Parse(json) : null;
    }

    public async Task Save(string tenant, IdentitySettingsInput input, CancellationToken ct)
    {
        await database.InTransaction(async session =>
        {
            await using var cmd = session.Command("""
                insert into identity_settings (tenant_id, settings) values (@tenant, @settings)
                on conflict (tenant_id) do update set settings = excluded.settings, updated_at = now()
                """);
            cmd.Parameters.AddWithValue("tenant", tenant);
            cmd.Parameters.AddWithValue("settings", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(input, SettingsJson.Options));
            await cmd.ExecuteNonQueryAsync(ct);
        }, ct);
        _cache.TryRemove(tenant, out _);
    }
}
