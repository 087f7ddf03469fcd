using Contacts.ServiceDefaults.Http;

namespace Contacts.Alerting.Paging;

/// <summary>The bounds of alerting's lists paged by a time-ordered id (alerts, subscriptions, deliveries).</summary>
public static class PageQuery
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>The page asked for; a bad parameter adds an error naming it and its rule.</summary>
    public static (int Limit, Guid? After) Read(PageRequest page, Dictionary<string, string[]> errors) =>
        (page.Size(DefaultLimit, MaxLimit, errors), page.IdCursor(errors));
}
