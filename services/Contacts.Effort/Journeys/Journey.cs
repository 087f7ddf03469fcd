using System.Security.Cryptography;
using System.Text;

namespace Contacts.Effort.Journeys;

/// <summary>A customer's contacts about one issue: opened by a contact, closed by resolution or by a window of quiet.</summary>
public sealed class Journey
{
    private readonly List<Contact> _contacts = [];

    public Journey(Contact opener)
    {
        Add(opener);
    }

    /// <summary>Stable across re-scoring and merges: derived from the contact that opened it.</summary>
    public Guid Id => IdOf(_contacts[0].Key);
    public string? Topic { get; private set; }
    public IReadOnlyList<Contact> Contacts => _contacts;
    /// <summary>The contacts the customer made or received, without survey-only answers.</summary>
    public IEnumerable<Contact> Interactions => _contacts.Where(c => !c.IsSurveyOnly);
    public DateTimeOffset OpenedAt => _contacts[0].StartedAt;
    public DateTimeOffset LastAt { get; private set; } = DateTimeOffset.MinValue;
    public IReadOnlyList<string> Channels => [.. Interactions.SelectMany(c => c.Channels).Distinct()];
    public bool LastContactResolved => Interactions.LastOrDefault()?.Resolved == true;

    /// <summary>Open while the window since its last contact has not passed; a resolution only closes it once no repeat follows.</summary>
    public bool IsOpen(DateTimeOffset asOf, TimeSpan window) => asOf - LastAt <= window;

    public string Status(DateTimeOffset asOf, TimeSpan window) =>
        IsOpen(asOf, window) ? "open" : LastContactResolved ? "resolved" : "closed";

    internal void Add(Contact contact)
    {
        _contacts.Add(contact);
        Topic ??= contact.Topic;
        if (contact.LastAt > LastAt)
        {
            LastAt = contact.LastAt;
        }
    }

    private static Guid IdOf(string contactKey)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("journey:" + contactKey));
        return new Guid(hash.AsSpan(0, 16));
    }
}

public static class JourneyBuilder
{
    /// <summary>
    /// Groups contacts (in start order) into journeys: a contact joins the open journey of its topic (compared ignoring
    /// case: agents and platforms write "Billing" and "billing" for one thing), or an open journey with no topic yet; a
    /// contact without a topic joins the most recent open journey; otherwise it opens a journey.
    /// </summary>
    public static IReadOnlyList<Journey> Build(IEnumerable<Contact> contacts, TimeSpan window)
    {
        var journeys = new List<Journey>();
        foreach (var contact in contacts.OrderBy(c => c.StartedAt).ThenBy(c => c.Key, StringComparer.Ordinal))
        {
            var open = journeys.Where(j => contact.StartedAt - j.LastAt <= window).ToList();
            var joins = contact.Topic is { } topic
                ? open.LastOrDefault(j => string.Equals(j.Topic, topic, StringComparison.OrdinalIgnoreCase)) ?? open.LastOrDefault(j => j.Topic is null)
                : open.MaxBy(j => j.LastAt);
            if (joins is null)
            {
                journeys.Add(new Journey(contact));
            }
            else
            {
                joins.Add(contact);
            }
        }
        return journeys;
    }
}
