using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Options;

namespace Contacts.UnitTests.ServiceDefaults;

/// <summary>A service trusts only the gateway: without its internal key it does not start, unless local development says so.</summary>
public sealed class InternalKeyPolicyTests
{
    [Theory]
    [InlineData(null, false, "Internal:Key is not set")]
    [InlineData("", false, "Internal:Key is not set")]
    [InlineData("   ", false, "Internal:Key is not set")]
    [InlineData("short-key", false, "at least 16 characters")]
    [InlineData("short-key", true, "at least 16 characters")]
    [InlineData("change-me-internal-key", false, "placeholder")]
    [InlineData("CHANGE-ME-INTERNAL-KEY", true, "placeholder")]
    public void Given_a_missing_short_or_published_key_when_judged_then_start_is_refused_saying_what_to_set(string? key, bool allowMissing, string why) =>
        Assert.Contains(why, InternalKeyPolicy.Refusal(key, allowMissing), StringComparison.Ordinal);

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData("0123456789abcdef", false)]
    [InlineData("9F86D081884C7D659A2FEAA0C55AD015", false)]
    public void Given_a_good_key_or_explicit_local_development_when_judged_then_start_is_allowed(string? key, bool allowMissing) =>
        Assert.Null(InternalKeyPolicy.Refusal(key, allowMissing));

    private static async Task<WebApplication> Start(params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        foreach (var (key, value) in settings)
        {
            builder.Configuration[key] = value;
        }
        builder.AddServiceDefaults("internal-key-test");
        var app = builder.Build();
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task Given_no_internal_key_when_a_host_starts_then_it_refuses_naming_the_setting()
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => Start());
        Assert.Contains("Internal:AllowMissingKey=true", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_short_internal_key_when_a_host_starts_then_it_refuses() =>
        await Assert.ThrowsAsync<OptionsValidationException>(() => Start(("Internal:Key", "guessable")));

    [Theory]
    [InlineData("Internal:Key", "0123456789abcdef0123")]
    [InlineData("Internal:AllowMissingKey", "true")]
    public async Task Given_a_key_or_the_local_development_setting_when_a_host_starts_then_it_starts(string setting, string value)
    {
        await using var app = await Start((setting, value));
        Assert.NotNull(app.Services);
    }
}
