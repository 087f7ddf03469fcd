using Contacts.Identity.Settings;

namespace Contacts.UnitTests;

public sealed class IdentitySettingsTests
{
    [Fact]
    public void Without_settings_the_protective_defaults_apply()
    {
        var effective = IdentitySettings.Effective(null);

        Assert.Null(effective.DefaultRegion);
        Assert.Equal(1, effective.Limits["crmId"]);
        Assert.Equal(1, effective.Limits["accountNumber"]);
        Assert.Contains("noreply@*", effective.Blocked["email"]);
        Assert.Equal(["crmId", "accountNumber", "email", "phone", "handle", "deviceId"], effective.Priority);
    }

    [Fact]
    public void What_a_tenant_sets_replaces_the_defaults_field_by_field()
    {
        var effective = IdentitySettings.Effective(new IdentitySettingsInput("US", new() { ["phone"] = 3 }, ["phone", "email"],
            new() { ["crmId"] = ["n/a"] }));

        Assert.Equal("US", effective.DefaultRegion);
        Assert.Equal(3, effective.Limits["phone"]);
        Assert.Equal(1, effective.Limits["email"]);
        Assert.Equal(["phone", "email", "crmId", "accountNumber", "handle", "deviceId"], effective.Priority);
        Assert.Equal(["n/a"], effective.Blocked["crmId"]);
        Assert.Contains("noreply@*", effective.Blocked["email"]);
    }

    [Fact]
    public void Every_bad_field_is_named_with_its_rule()
    {
        var errors = IdentitySettings.Validate(new IdentitySettingsInput("usa", new() { ["phone"] = 0, ["fax"] = 2 }, ["phone", "phone", "pager"],
            new() { ["email"] = [""] }));

        Assert.Contains("two-letter region", errors["defaultRegion"][0]);
        Assert.Contains("between 1 and 1000", errors["limits.phone"][0]);
        Assert.Contains("not an identifier type", errors["limits.fax"][0]);
        Assert.Equal(2, errors["priority"].Length);
        Assert.Contains("1 to 200 characters", errors["blocked.email"][0]);
    }

    [Fact]
    public void A_valid_body_has_no_errors() =>
        Assert.Empty(IdentitySettings.Validate(new IdentitySettingsInput("GB", new() { ["email"] = 3 }, ["email"], new() { ["phone"] = ["+440000*"] })));
}

public sealed class BlockedPatternTests
{
    [Theory]
    [InlineData("noreply@*", "noreply@shop.example", true)]
    [InlineData("noreply@*", "NoReply@Shop.example", true)]
    [InlineData("noreply@*", "reply@shop.example", false)]
    [InlineData("*@spam.example", "anyone@spam.example", true)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    [InlineData("anonymous", "anonymous", true)]
    [InlineData("anonymous", "anonymous1", false)]
    [InlineData("*", "", true)]
    public void A_blocked_pattern_matches_with_star_as_anything(string pattern, string value, bool matches) =>
        Assert.Equal(matches, Contacts.Identity.Stitching.IdentityRules.Glob(pattern, value));
}
