using Contacts.Identifiers;

namespace Contacts.UnitTests;

public sealed class IdentifierNormalizerTests
{
    [Theory]
    [InlineData("+44 20 7946 0958", "+442079460958")]
    [InlineData("+1 (415) 555-0100", "+14155550100")]
    [InlineData("0044 20 7946 0958", "+442079460958")]
    [InlineData("  +49.30.1234567 ", "+49301234567")]
    public void International_phone_numbers_normalise_to_E164(string raw, string expected) =>
        Assert.Equal(expected, IdentifierNormalizer.Phone(raw).Value);

    [Theory]
    [InlineData("(415) 555-0101")]
    [InlineData("415.555.0101")]
    [InlineData("+1 415 555 0101")]
    [InlineData("001 415 555 0101")]
    [InlineData("+14155550101")]
    public void Every_way_of_writing_one_US_number_is_one_identifier_under_region_US(string raw) =>
        Assert.Equal("+14155550101", IdentifierNormalizer.PhoneForTenant(raw, "US").Value);

    [Fact]
    public void A_national_number_is_carried_as_digits_and_placed_by_the_tenants_region()
    {
        var (value, error) = IdentifierNormalizer.Phone("020 7946 0958");
        Assert.Null(error);
        Assert.Equal("02079460958", value);
        Assert.Equal("+442079460958", IdentifierNormalizer.PhoneInRegion(value!, "GB").Value);
        Assert.Contains("no defaultRegion", IdentifierNormalizer.PhoneInRegion(value!, null).Error);
    }

    [Theory]
    [InlineData("+0 20 7946 0958", "country code")]
    [InlineData("+44 12", "possible phone number for its country")]
    [InlineData("+1 415 555 01", "possible phone number for its country")]
    [InlineData("+44 20 7946 0958 1234567", "possible phone number for its country")]
    [InlineData("+44 20 SEVEN", "'S' is not allowed")]
    [InlineData("0 12", "no region uses")]
    public void Impossible_phone_numbers_are_refused_with_the_rule(string raw, string rule)
    {
        var (value, error) = IdentifierNormalizer.Phone(raw);
        Assert.Null(value);
        Assert.Contains(rule, error);
    }

    [Fact]
    public void A_national_number_impossible_in_the_tenants_region_is_refused_naming_the_region() =>
        Assert.Contains("default region US", IdentifierNormalizer.PhoneForTenant("555 01", "US").Error);

    [Theory]
    [InlineData("  Ana.Lima@Example.COM ", "ana.lima@example.com")]
    [InlineData("support+tag@sub.example.org", "support+tag@sub.example.org")]
    [InlineData("ana@bücher.example", "ana@xn--bcher-kva.example")]
    [InlineData("Ana@BÜCHER.example", "ana@xn--bcher-kva.example")]
    [InlineData("ana@xn--bcher-kva.example", "ana@xn--bcher-kva.example")]
    [InlineData("ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai")]
    [InlineData("taro@日本語.jp", "taro@xn--wgv71a119e.jp")]
    public void Emails_are_trimmed_lower_cased_and_their_domain_is_ascii(string raw, string expected) =>
        Assert.Equal(expected, IdentifierNormalizer.Email(raw).Value);

    [Theory]
    [InlineData("ana@p\u0430ypal.com")]
    [InlineData("ana@xn--pypal-4ve.com")]
    [InlineData("ana@g\u03BFogle.com")]
    public void A_domain_label_mixing_scripts_is_refused(string raw) =>
        Assert.Contains("mix scripts", IdentifierNormalizer.Email(raw).Error);

    [Theory]
    [InlineData("no-at-sign")]
    [InlineData("two@@example.com")]
    [InlineData("a@localhost")]
    [InlineData("a@example..com")]
    [InlineData("a b@example.com")]
    [InlineData("@example.com")]
    [InlineData("a@exa_mple.com")]
    public void Bad_emails_are_refused(string raw) => Assert.NotNull(IdentifierNormalizer.Email(raw).Error);

    [Fact]
    public void Other_identifiers_are_trimmed_and_must_not_be_blank()
    {
        Assert.Equal("CRM-42", IdentifierNormalizer.Normalize(IdentifierTypes.CrmId, "  CRM-42 ").Value);
        Assert.Equal("must not be blank", IdentifierNormalizer.Normalize(IdentifierTypes.Handle, "   ").Error);
    }
}
