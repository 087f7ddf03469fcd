using Contacts.ServiceDefaults.Identifiers;

namespace Contacts.UnitTests;

public sealed class IdentifierNormalizerTests
{
    [Theory]
    [InlineData("+44 20 7946 0958", "+442079460958")]
    [InlineData("+1 (415) 555-0100", "+14155550100")]
    [InlineData("0044 20 7946 0958", "+442079460958")]
    [InlineData("  +49.30.1234567 ", "+49301234567")]
    public void Phone_numbers_normalise_to_E164(string raw, string expected) =>
        Assert.Equal(expected, IdentifierNormalizer.Phone(raw).Value);

    [Theory]
    [InlineData("020 7946 0958", "international format")]
    [InlineData("+0 20 7946 0958", "country code")]
    [InlineData("+44 12", "8 to 15 digits")]
    [InlineData("+44 20 7946 0958 1234567", "8 to 15 digits")]
    [InlineData("+44 20 SEVEN", "'S' is not allowed")]
    public void Bad_phone_numbers_are_refused_with_the_rule(string raw, string rule)
    {
        var (value, error) = IdentifierNormalizer.Phone(raw);
        Assert.Null(value);
        Assert.Contains(rule, error);
    }

    [Theory]
    [InlineData("  Ana.Lima@Example.COM ", "ana.lima@example.com")]
    [InlineData("support+tag@sub.example.org", "support+tag@sub.example.org")]
    public void Emails_are_trimmed_and_lower_cased(string raw, string expected) =>
        Assert.Equal(expected, IdentifierNormalizer.Email(raw).Value);

    [Theory]
    [InlineData("no-at-sign")]
    [InlineData("two@@example.com")]
    [InlineData("a@localhost")]
    [InlineData("a@example..com")]
    [InlineData("a b@example.com")]
    [InlineData("@example.com")]
    public void Bad_emails_are_refused(string raw) => Assert.NotNull(IdentifierNormalizer.Email(raw).Error);

    [Fact]
    public void Other_identifiers_are_trimmed_and_must_not_be_blank()
    {
        Assert.Equal("CRM-42", IdentifierNormalizer.Normalize(IdentifierTypes.CrmId, "  CRM-42 ").Value);
        Assert.Equal("must not be blank", IdentifierNormalizer.Normalize(IdentifierTypes.Handle, "   ").Error);
    }
}
