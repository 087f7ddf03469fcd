using Contacts.Gateway.ApiKeys;

namespace Contacts.UnitTests;

public sealed class ApiKeyTests
{
    [Fact]
    public void Keys_are_random_prefixed_and_only_their_hash_is_kept()
    {
        var (a, b) = (ApiKeyStore.NewKey(), ApiKeyStore.NewKey());
        Assert.StartsWith("ck_", a);
        Assert.NotEqual(a, b);
        Assert.Equal(32, ApiKeyStore.Hash(a).Length);
        Assert.Equal(ApiKeyStore.Hash(a), ApiKeyStore.Hash(a));
        Assert.NotEqual(ApiKeyStore.Hash(a), ApiKeyStore.Hash(b));
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
