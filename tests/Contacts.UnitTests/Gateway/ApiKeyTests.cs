using Contacts.Gateway.ApiKeys;

namespace Contacts.UnitTests;

/// <summary>What the gateway keeps of a tenant key (ApiKeyStore.Add stores Hash(key) as key_hash; the cache is keyed by it too).</summary>
public sealed class ApiKeyTests
{
    [Fact]
    public void Given_two_new_keys_then_each_is_prefixed_carries_256_random_bits_and_differs_from_the_other()
    {
        var (a, b) = (ApiKeyStore.NewKey(), ApiKeyStore.NewKey());
        Assert.StartsWith(ApiKeyStore.Prefix, a);
        Assert.NotEqual(a, b);
        var body = a[ApiKeyStore.Prefix.Length..];
        var bytes = Convert.FromBase64String(body.Replace('-', '+').Replace('_', '/') + "=");
        Assert.Equal(32, bytes.Length);
    }

    [Fact]
    public void Given_a_key_when_its_stored_value_is_computed_then_it_is_its_SHA256_and_holds_no_part_of_the_key()
    {
        var key = ApiKeyStore.NewKey();
        var stored = ApiKeyStore.Hash(key);

        Assert.Equal(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)), stored);
        var keyBytes = System.Text.Encoding.UTF8.GetBytes(key);
        var body = System.Text.Encoding.UTF8.GetBytes(key[ApiKeyStore.Prefix.Length..]);
        Assert.Equal(-1, stored.AsSpan().IndexOf(keyBytes));
        var (base64, hex) = (Convert.ToBase64String(stored), Convert.ToHexString(stored));
        for (var i = 0; i + 8 <= body.Length; i++)
        {
            var piece = key[ApiKeyStore.Prefix.Length..].Substring(i, 8);
            Assert.Equal(-1, stored.AsSpan().IndexOf(body.AsSpan(i, 8)));
            Assert.DoesNotContain(piece, base64, StringComparison.Ordinal);
            Assert.DoesNotContain(piece, hex, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Given_a_key_when_one_character_changes_then_the_stored_value_is_another()
    {
        var key = ApiKeyStore.NewKey();
        var last = key[^1] == 'A' ? 'B' : 'A';
        var other = key[..^1] + last;
        Assert.NotEqual(ApiKeyStore.Hash(key), ApiKeyStore.Hash(other));
        Assert.NotEqual(ApiKeyStore.Hash(key), ApiKeyStore.Hash(ApiKeyStore.NewKey()));
    }

    private static (ApiKeyStore Store, ApiKeyCache Cache) StoreWithoutDatabase()
    {
        var cache = new ApiKeyCache(TimeProvider.System);
        cache.SetListening(true);
        var migrated = new Contacts.Persistence.MigrationState();
        migrated.Complete();
        // Nothing listens on port 1: a lookup that misses the cache and reaches the database fails at once.
        var store = new ApiKeyStore(Npgsql.NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Timeout=2"), migrated, cache);
        return (store, cache);
    }

    [Fact]
    public async Task Given_a_key_known_by_its_hash_when_it_is_presented_then_its_tenant_is_found_and_another_key_is_not()
    {
        var (store, cache) = StoreWithoutDatabase();
        var key = ApiKeyStore.NewKey();
        cache.Put(Convert.ToBase64String(ApiKeyStore.Hash(key)), "tenant-a", cache.Generation);

        Assert.Equal("tenant-a", await store.TenantOf(key, CancellationToken.None));

        // A different key, even one character off, misses the entry and goes on to the database, which is not there.
        await Assert.ThrowsAsync<Npgsql.NpgsqlException>(() => store.TenantOf(ApiKeyStore.NewKey(), CancellationToken.None));
        await Assert.ThrowsAsync<Npgsql.NpgsqlException>(() => store.TenantOf(key[..^1] + (key[^1] == 'A' ? 'B' : 'A'), CancellationToken.None));
    }

    [Fact]
    public async Task Given_an_entry_under_the_plain_key_when_the_key_is_presented_then_it_is_not_answered_from_it()
    {
        var (store, cache) = StoreWithoutDatabase();
        var key = ApiKeyStore.NewKey();
        cache.Put(key, "tenant-a", cache.Generation);

        await Assert.ThrowsAsync<Npgsql.NpgsqlException>(() => store.TenantOf(key, CancellationToken.None));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-key")]
    [InlineData("CK_abcdef")]
    public async Task Given_a_value_without_the_key_prefix_or_too_long_then_no_tenant_is_found_without_a_lookup(string presented)
    {
        var (store, cache) = StoreWithoutDatabase();
        cache.Put(Convert.ToBase64String(ApiKeyStore.Hash(presented)), "tenant-a", cache.Generation);
        Assert.Null(await store.TenantOf(presented, CancellationToken.None));

        var tooLong = ApiKeyStore.Prefix + new string('a', 98);
        cache.Put(Convert.ToBase64String(ApiKeyStore.Hash(tooLong)), "tenant-a", cache.Generation);
        Assert.Null(await store.TenantOf(tooLong, CancellationToken.None));
    }
}

/// <summary>The gateway's cache of live keys: what it may answer from, and what makes it forget.</summary>
public sealed class ApiKeyCacheTests
{
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-12-03T12:00:00Z"));

    private ApiKeyCache Listening()
    {
        var cache = new ApiKeyCache(_clock);
        cache.SetListening(true);
        return cache;
    }

    [Fact]
    public void Given_a_listening_cache_when_a_key_read_in_the_current_generation_is_put_then_it_is_answered_from_the_cache()
    {
        var cache = Listening();
        cache.Put("k", "tenant-a", cache.Generation);
        Assert.Equal("tenant-a", cache.TenantOf("k"));
        Assert.Null(cache.TenantOf("other"));
    }

    [Fact]
    public void Given_a_cache_not_listening_for_changes_when_a_key_is_put_then_nothing_is_answered_from_it()
    {
        var cache = new ApiKeyCache(_clock);
        cache.Put("k", "tenant-a", cache.Generation);
        Assert.Null(cache.TenantOf("k"));
    }

    [Fact]
    public void Given_a_cached_key_when_any_key_changes_then_it_is_forgotten()
    {
        var cache = Listening();
        cache.Put("k", "tenant-a", cache.Generation);
        cache.Invalidate();
        Assert.Null(cache.TenantOf("k"));
    }

    [Fact]
    public void Given_a_lookup_that_began_before_a_change_when_its_answer_is_put_after_it_then_the_answer_is_not_kept()
    {
        var cache = Listening();
        var before = cache.Generation; // the lookup reads the table, and meanwhile the key is revoked
        cache.Invalidate();
        cache.Put("k", "tenant-a", before);
        Assert.Null(cache.TenantOf("k"));
    }

    [Fact]
    public void Given_a_cached_key_when_the_listener_loses_its_connection_then_it_is_forgotten_and_nothing_more_is_kept()
    {
        var cache = Listening();
        cache.Put("k", "tenant-a", cache.Generation);
        cache.SetListening(false);
        Assert.Null(cache.TenantOf("k"));
        cache.Put("k", "tenant-a", cache.Generation);
        Assert.Null(cache.TenantOf("k"));
    }

    [Fact]
    public void Given_a_cached_key_when_it_is_older_than_the_longest_age_then_it_is_looked_up_again()
    {
        var cache = Listening();
        cache.Put("k", "tenant-a", cache.Generation);
        _clock.Advance(ApiKeyCache.MaxAge - TimeSpan.FromSeconds(1));
        Assert.Equal("tenant-a", cache.TenantOf("k"));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(cache.TenantOf("k"));
    }
}
