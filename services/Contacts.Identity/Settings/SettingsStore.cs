using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Contacts.Identity.Stitching;
using Contacts.Messaging.Persistence;
using Dapper;

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
        await using var connection = database.DataSource.CreateConnection();
        return await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "select settings::text from identity_settings where tenant_id = @tenant", new { tenant }, cancellationToken: ct)) is { } json
            ? IdentitySettings.Parse(json)
            : null;
    }

    public async Task Save(string tenant, IdentitySettingsInput input, CancellationToken ct)
    {
        await database.InTransaction(session => session.Execute("""
            insert into identity_settings (tenant_id, settings) values (@tenant, @settings::jsonb)
            on conflict (tenant_id) do update set settings = excluded.settings, updated_at = now()
            """, new { tenant, settings = JsonSerializer.Serialize(input, SettingsJson.Options) }, ct), ct);
        _cache.TryRemove(tenant, out _);
    }
}
