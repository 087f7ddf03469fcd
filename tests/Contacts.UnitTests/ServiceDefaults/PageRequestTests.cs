using Contacts.ServiceDefaults.Http;

namespace Contacts.UnitTests;

/// <summary>The shared ?limit= and ?after= of every paged list: defaults, bounds, and an error naming the field and its rule.</summary>
public sealed class PageRequestTests
{
    [Fact]
    public void Without_either_the_default_size_and_no_cursor_are_used_and_nothing_is_wrong()
    {
        var errors = new Dictionary<string, string[]>();
        var page = new PageRequest(null, null);
        Assert.Equal(50, page.Size(50, 200, errors));
        Assert.Null(page.IdCursor(errors));
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("200", 200)]
    public void A_size_within_the_bounds_is_taken(string limit, int expected)
    {
        var errors = new Dictionary<string, string[]>();
        Assert.Equal(expected, new PageRequest(limit, null).Size(50, 200, errors));
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("201")]
    [InlineData("-3")]
    [InlineData("ten")]
    [InlineData("")]
    [InlineData("2.5")]
    public void A_size_outside_the_bounds_or_not_a_whole_number_is_an_error_naming_limit_and_its_bounds(string limit)
    {
        var errors = new Dictionary<string, string[]>();
        new PageRequest(limit, null).Size(50, 200, errors);
        Assert.Equal(["must be a whole number from 1 to 200"], Assert.Single(errors, e => e.Key == "limit").Value);
    }

    [Fact]
    public void An_id_cursor_is_read_and_anything_else_is_an_error_naming_after()
    {
        var id = Guid.CreateVersion7();
        var errors = new Dictionary<string, string[]>();
        Assert.Equal(id, new PageRequest(null, id.ToString()).IdCursor(errors));
        Assert.Empty(errors);
        Assert.Null(new PageRequest(null, "nope").IdCursor(errors));
        Assert.Equal([PageRequest.CursorRule], errors["after"]);
    }

    [Fact]
    public void A_cursor_of_the_endpoints_own_kind_is_read_by_its_parser_with_its_own_rule()
    {
        var errors = new Dictionary<string, string[]>();
        static long? Position(string text) => long.TryParse(text, out var p) && p >= 0 ? p : null;
        Assert.Equal(42L, new PageRequest(null, "42").Cursor(Position, errors));
        Assert.Null(new PageRequest(null, "-1").Cursor(Position, errors, "must be the next of a previous page"));
        Assert.Equal(["must be the next of a previous page"], errors["after"]);
    }
}
