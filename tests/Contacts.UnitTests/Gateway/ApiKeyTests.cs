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
