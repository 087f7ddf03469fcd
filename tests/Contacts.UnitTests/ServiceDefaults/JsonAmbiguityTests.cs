using System.Text;
using Contacts.ServiceDefaults.Http;

namespace Contacts.UnitTests.ServiceDefaults;

/// <summary>A JSON body means one thing or is refused: members given twice and text that is not Unicode are named by path.</summary>
public sealed class JsonAmbiguityTests
{
    private static IReadOnlyList<JsonAmbiguityProblem> Find(string json, bool ignoreCase = false, bool checkValues = false) =>
        JsonAmbiguity.Find(Encoding.UTF8.GetBytes(json), ignoreCase, checkValues);

    [Theory]
    [InlineData("""{"channel":"fax","channel":"chat"}""", "channel")]
    [InlineData("""{"identifiers":{"email":"a@example.com","email":"b@example.com"}}""", "identifiers.email")]
    [InlineData("""{"events":[{"a":1},{"sourceEventId":"x","sourceEventId":"y"}]}""", "events[1].sourceEventId")]
    [InlineData("""{"a":[1,[2,3],{"b":1,"b":2}]}""", "a[2].b")]
    [InlineData("""{"a":1,"\u0061":2}""", "a")]
    [InlineData("""{"events":[],"events":[{"a":1}]}""", "events")]
    public void Given_a_member_given_twice_when_searched_then_its_path_is_named(string json, string field)
    {
        var problem = Assert.Single(Find(json));
        Assert.Equal(field, problem.Field);
        Assert.Contains("more than once", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_names_differing_only_in_case_when_searched_case_insensitively_then_they_are_one_member_given_twice()
    {
        const string Json = """{"channel":"fax","Channel":"chat"}""";
        Assert.Empty(Find(Json));
        Assert.Equal("Channel", Assert.Single(Find(Json, ignoreCase: true)).Field);
    }

    [Theory]
    [InlineData("""{"a":{"b":1},"c":{"b":2}}""")]
    [InlineData("""{"a":[{"b":1},{"b":2}]}""")]
    [InlineData("""[{"b":1},{"b":1}]""")]
    [InlineData("""{"x":"\ud83d\ude00"}""")]
    public void Given_the_same_name_in_different_objects_or_a_paired_surrogate_when_searched_then_nothing_is_found(string json) =>
        Assert.Empty(Find(json, ignoreCase: true, checkValues: true));

    [Theory]
    [InlineData("""{"\ud800":1}""", "\\ud800")]
    [InlineData("""{"detail":{"contactId":"c","\udfff":true}}""", "detail.\\udfff")]
    [InlineData("""{"events":[{"a\ud800b":1}]}""", "events[0].a\\ud800b")]
    public void Given_a_property_name_with_a_lone_surrogate_when_searched_then_it_is_named_as_written(string json, string field)
    {
        var problem = Assert.Single(Find(json));
        Assert.Equal(field, problem.Field);
        Assert.Contains("not valid text", problem.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"detail":{"contactId":"\ud800"}}""", "detail.contactId")]
    [InlineData("""{"a":["ok","\udc00x"]}""", "a[1]")]
    [InlineData("\"\\ud800\"", "body")]
    public void Given_a_string_value_with_a_lone_surrogate_when_values_are_checked_then_it_is_named(string json, string field)
    {
        Assert.Empty(Find(json));
        Assert.Equal(field, Assert.Single(Find(json, checkValues: true)).Field);
    }

    [Fact]
    public void Given_a_body_that_stops_being_json_when_searched_then_what_came_before_is_answered_without_an_exception() =>
        Assert.Equal("a", Assert.Single(Find("""{"a":1,"a":2,"b":""")).Field);

    [Fact]
    public void Given_a_duplicated_member_when_a_body_is_read_then_it_is_refused_naming_the_field()
    {
        var (value, errors) = JsonBody.Read<Dictionary<string, object>>("""{"url":"https://a.example.com","url":"http://127.0.0.1"}""",
            new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web));
        Assert.Null(value);
        Assert.Contains("more than once", Assert.Single(errors["url"]), StringComparison.Ordinal);
    }
}
