namespace Contacts.Alerting.Paging;

/// <summary>The `limit` and `after` query parameters of alerting's paginated lists, read once for every list.</summary>
public static class PageQuery
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>The page asked for; a bad parameter adds an error naming it and its rule.</summary>
    public static (int Limit, Guid? After) Read(IQueryCollection query, Dictionary<string, string[]> errors)
    {
        var limit = DefaultLimit;
        if (query.ContainsKey("limit") && (!int.TryParse(query["limit"].ToString(), out limit) || limit is < 1 or > MaxLimit))
        {
            errors["limit"] = [$"must be a whole number from 1 to {MaxLimit}"];
        }
        Guid? after = null;
        if (query.ContainsKey("after"))
        {
            if (Guid.TryParse(query["after"].ToString(), out var cursor))
            {
                after = cursor;
            }
            else
            {
                errors["after"] = ["must be the 'next' cursor of a previous page"];
            }
        }
        return (limit, after);
    }
}
