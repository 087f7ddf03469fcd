using System.Text.Json;
using Contacts.ServiceDefaults.Http;

namespace Contacts.UnitTests.ServiceDefaults;

public sealed class JsonBodyTests
{
    private sealed record Shape(int? Threshold, Inner? Inner);

    private sealed record Inner(string[]? Events);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public void A_body_of_the_right_shape_is_read_with_no_errors()
    {
        var (value, errors) = JsonBody.Read<Shape>("""{"threshold": 70, "inner": {"events": ["alert.raised"]}}""", Json);

        Assert.Equal(70, value?.Threshold);
        Assert.Equal(["alert.raised"], value?.Inner?.Events ?? []);
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("""{"threshold": "high"}""", "threshold")]
    [InlineData("""{"inner": {"events": [1]}}""", "inner.events[0]")]
    [InlineData("""[1, 2]""", "body")]
    [InlineData("""{"threshold": 70""", "threshold")]
    public void A_value_of_the_wrong_type_is_refused_naming_the_field_it_sits_in(string body, string field)
    {
        var (value, errors) = JsonBody.Read<Shape>(body, Json);

        Assert.Null(value);
        var rule = Assert.Single(Assert.Contains(field, errors));
        Assert.StartsWith("is not valid here: ", rule);
        Assert.DoesNotContain("Path:", rule);
    }

    [Fact]
    public void A_JSON_null_is_refused_as_not_an_object()
    {
        var (value, errors) = JsonBody.Read<Shape>("null", Json);

        Assert.Null(value);
        Assert.Equal(["must be a JSON object"], errors["body"]);
    }
}
