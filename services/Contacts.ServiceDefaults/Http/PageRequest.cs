using Microsoft.AspNetCore.Mvc;

namespace Contacts.ServiceDefaults.Http;

/// <summary>
/// The page a list is asked for, ?limit= and ?after=, bound with [AsParameters] by every paged endpoint. Both are read as
/// text, so a bad value gets the endpoint's own 400 naming the field and its rule rather than the framework's bare
/// binding failure; each endpoint gives its own bounds and cursor (a time-ordered id, a feed position, a time and contact).
/// </summary>
public readonly record struct PageRequest([FromQuery(Name = "limit")] string? Limit, [FromQuery(Name = "after")] string? After)
{
    public const string CursorRule = "must be the 'next' cursor of a previous page";

    /// <summary>How many per page: <paramref name="default"/> when absent, else a whole number from 1 to <paramref name="max"/> (an error naming limit otherwise).</summary>
    public int Size(int @default, int max, IDictionary<string, string[]> errors)
    {
        if (Limit is null)
        {
            return @default;
        }
        if (int.TryParse(Limit, out var size) && size is >= 1 && size <= max)
        {
            return size;
        }
        errors["limit"] = [$"must be a whole number from 1 to {max}"];
        return @default;
    }

    /// <summary>The cursor, read by <paramref name="parse"/>: null when absent; when it does not parse, an error naming after with <paramref name="rule"/>.</summary>
    public T? Cursor<T>(Func<string, T?> parse, IDictionary<string, string[]> errors, string rule = CursorRule) where T : struct
    {
        if (After is null)
        {
            return null;
        }
        if (parse(After) is { } cursor)
        {
            return cursor;
        }
        errors["after"] = [rule];
        return null;
    }

    /// <summary>A cursor that is an id (the last of the previous page).</summary>
    public Guid? IdCursor(IDictionary<string, string[]> errors, string rule = CursorRule) =>
        Cursor(text => Guid.TryParse(text, out var id) ? id : (Guid?)null, errors, rule);

    /// <summary>A cursor that is a position in a sequence (0 or more).</summary>
    public long? PositionCursor(IDictionary<string, string[]> errors, string rule = CursorRule) =>
        Cursor(text => long.TryParse(text, out var position) && position >= 0 ? position : (long?)null, errors, rule);
}
