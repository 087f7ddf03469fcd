using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Contacts.Alerting.DeadLetters;

/// <summary>A message waiting in an error queue, as an operator sees it: what and whose it is and why it failed, never a phone number or email.</summary>
public sealed record DeadLetter(
    [property: Description("The message's id (the id the inbox de-duplicates a batch or message by).")] string? MessageId,
    [property: Description("The message type, e.g. ContactEventReceivedBatch; null when the body is not a message at all.")] string? Type,
    [property: Description("The tenant the message belongs to; null when it names none (or several).")] string? Tenant,
    [property: Description("For a batch: the message ids of its items (what each item's inbox de-duplicates by).")] IReadOnlyList<string> Items,
    [property: Description("The contact events the message is about, to find them in traces and logs.")] IReadOnlyList<string> ContactEventIds,
    [property: Description("Why it failed, as the consumer's exception said it (identifier values taken out).")] string Reason,
    [property: Description("The exception's type.")] string? ExceptionType,
    [property: Description("When it was moved to the error queue.")] DateTimeOffset? FirstSeen);

/// <summary>One pipeline queue's error queue: how many wait, and the first of them.</summary>
public sealed record DeadLetterQueue(
    [property: Description("The queue whose consumer failed them; retry sends them back here.")] string Queue,
    [property: Description("Where they wait: the queue's name with _error.")] string ErrorQueue,
    [property: Description("How many wait in the error queue, of every tenant.")] long Count,
    IReadOnlyList<DeadLetter> Messages,
    [property: Description("True when more wait (or match) than Messages shows: raise limit, or retry and look again.")] bool Truncated);

public sealed record DeadLetterList(IReadOnlyList<DeadLetterQueue> Queues);

/// <summary>What a retry did: how many went back to the queue, and how many still wait in its error queue.</summary>
public sealed record DeadLetterRetry(string Queue, string ErrorQueue, int Retried, long Remaining);

/// <summary>An operator's retry: all of the queue's dead letters, or only those with these message ids.</summary>
public sealed record DeadLetterRetryRequest(
    [property: Description("Only these messages (their messageId as listed); all of the queue's when left out.")] IReadOnlyList<string>? MessageIds);

/// <summary>
/// Reading a dead letter: MassTransit keeps the body as it was and puts the exception in MT-Fault-* headers. Pure, so the
/// shell that browses the broker stays thin.
/// </summary>
public static partial class DeadLetters
{
    public const string Redacted = "[redacted]";

    /// <summary>The pipeline queues whose error queues are listed, and a queue named either way ("q" or "q_error") resolved to "q".</summary>
    public static string? Resolve(string name, IEnumerable<string> queues)
    {
        var queue = name.EndsWith("_error", StringComparison.Ordinal) ? name[..^"_error".Length] : name;
        return queues.FirstOrDefault(q => q == queue);
    }

    /// <summary>The headers MassTransit adds when it moves a message to an error queue: the failure's, not the message's.</summary>
    public static bool IsFaultHeader(string name) =>
        name.StartsWith("MT-Fault-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("MT-Host-", StringComparison.OrdinalIgnoreCase)
        || name.Equals("MT-Reason", StringComparison.OrdinalIgnoreCase);

    public const int MaxRetryIds = 1000;

    /// <summary>
    /// A retry's body: none (or {}) retries all; {"messageIds": [...]} only those. Null ids for all; errors name the field and rule.
    /// </summary>
    public static (IReadOnlySet<string>? Only, Dictionary<string, string[]>? Errors) ParseRetry(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return (null, null);
        }
        static (IReadOnlySet<string>?, Dictionary<string, string[]>?) Error(string field, string rule) =>
            (null, new Dictionary<string, string[]> { [field] = [rule] });
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException)
        {
            return Error("body", "must be a JSON object such as {\"messageIds\": [\"...\"]}, or empty to retry all");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Error("body", "must be a JSON object");
            }
            if (document.RootElement.EnumerateObject().FirstOrDefault(p => !p.NameEquals("messageIds")) is { Value.ValueKind: not JsonValueKind.Undefined } unknown)
            {
                return Error(unknown.Name, "is not a field of a retry (only messageIds)");
            }
            if (!document.RootElement.TryGetProperty("messageIds", out var ids) || ids.ValueKind == JsonValueKind.Null)
            {
                return (null, null);
            }
            if (ids.ValueKind != JsonValueKind.Array || ids.GetArrayLength() is 0 or > MaxRetryIds
                || ids.EnumerateArray().Any(id => id.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(id.GetString())))
            {
                return Error("messageIds", $"must be an array of 1 to {MaxRetryIds} message ids (strings), or left out to retry all");
            }
            return (ids.EnumerateArray().Select(id => id.GetString()!).ToHashSet(StringComparer.OrdinalIgnoreCase), null);
        }
    }

    /// <summary>Describes one dead letter from its AMQP message id, headers and body.</summary>
    public static DeadLetter Describe(string? amqpMessageId, IDictionary<string, object?>? headers, ReadOnlySpan<byte> body, DateTimeOffset? published)
    {
        string? messageId = amqpMessageId, type = null;
        var tenants = new HashSet<string>(StringComparer.Ordinal);
        var items = new List<string>();
        var identifiers = new HashSet<string>(StringComparer.Ordinal);
        var contacts = new List<string>();
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("messageId", out var id) && id.ValueKind == JsonValueKind.String)
                {
                    messageId = id.GetString();
                }
                if (root.TryGetProperty("messageType", out var types) && types.ValueKind == JsonValueKind.Array && types.GetArrayLength() > 0
                    && types[0].ValueKind == JsonValueKind.String)
                {
                    type = types[0].GetString()!.Split(':')[^1];
                }
                if (root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
                {
                    Collect(message, tenants, identifiers, contacts, receivedEvent: type?.StartsWith("ContactEventReceived", StringComparison.Ordinal) == true);
                    if (message.TryGetProperty("items", out var batch) && batch.ValueKind == JsonValueKind.Array)
                    {
                        items.AddRange(batch.EnumerateArray()
                            .Select(item => item.ValueKind == JsonValueKind.Object && item.TryGetProperty("messageId", out var itemId) ? itemId.ToString() : "")
                            .Where(itemId => itemId.Length > 0));
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not a message at all (that is often why it is here): described from its headers alone.
        }
        type ??= Header(headers, "MT-Fault-MessageType")?.Split(':')[^1];
        var reason = Header(headers, "MT-Fault-Message") ?? "no reason recorded (the message was not moved here by a consumer)";
        var firstSeen = DateTimeOffset.TryParse(Header(headers, "MT-Fault-Timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : published;
        return new DeadLetter(messageId, type, tenants.Count == 1 ? tenants.Single() : null, items, contacts.Distinct().ToList(), Redact(reason, identifiers),
            Header(headers, "MT-Fault-ExceptionType"), firstSeen);
    }

    /// <summary>
    /// The text with every identifier value the message carries taken out, and anything shaped like an email or a phone
    /// number (E.164, or 7 digits in a row) too: an exception's message may quote what it failed on.
    /// </summary>
    public static string Redact(string text, IEnumerable<string> identifierValues)
    {
        foreach (var value in identifierValues.Where(v => v.Length >= 3).OrderByDescending(v => v.Length))
        {
            text = text.Replace(value, Redacted, StringComparison.OrdinalIgnoreCase);
        }
        return Sensitive().Replace(text, Redacted);
    }

    /// <summary>
    /// The tenant ids, identifier values and contact event ids anywhere in a message (a batch's items included): a
    /// contactEventId, or a received event's own id (the object that has a tenantId).
    /// </summary>
    private static void Collect(JsonElement element, HashSet<string> tenants, HashSet<string> identifiers, List<string> contacts, bool receivedEvent)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (receivedEvent && element.TryGetProperty("tenantId", out _) && element.TryGetProperty("id", out var eventId) && eventId.ValueKind == JsonValueKind.String)
                {
                    contacts.Add(eventId.GetString()!);
                }
                foreach (var property in element.EnumerateObject())
                {
                    if (property.NameEquals("tenantId") && property.Value.ValueKind == JsonValueKind.String && property.Value.GetString() is { Length: > 0 } tenant)
                    {
                        tenants.Add(tenant);
                    }
                    else if (property.NameEquals("contactEventId") && property.Value.ValueKind == JsonValueKind.String)
                    {
                        contacts.Add(property.Value.GetString()!);
                    }
                    else if (property.NameEquals("identifiers"))
                    {
                        Strings(property.Value, identifiers);
                    }
                    else
                    {
                        Collect(property.Value, tenants, identifiers, contacts, receivedEvent);
                    }
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, tenants, identifiers, contacts, receivedEvent);
                }
                break;
        }
    }

    private static void Strings(JsonElement element, HashSet<string> into)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                into.Add(element.GetString()!);
                break;
            case JsonValueKind.Object:
                // {"type": "email", "value": "..."} or {"email": "..."}: the values, not the names of their types.
                foreach (var property in element.EnumerateObject().Where(p => !p.NameEquals("type")))
                {
                    Strings(property.Value, into);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Strings(item, into);
                }
                break;
        }
    }

    private static string? Header(IDictionary<string, object?>? headers, string name) =>
        headers is not null && headers.TryGetValue(name, out var value)
            ? value switch
            {
                null => null,
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                _ => Convert.ToString(value, CultureInfo.InvariantCulture),
            }
            : null;

    [GeneratedRegex(@"[^\s@'""()<>,;:]+@[^\s@'""()<>,;:]+\.[^\s@'""()<>,;:]+|\+\d[\d ().-]{5,}\d|(?<![\w-])\d{7,}(?![\w-])")]
    private static partial Regex Sensitive();
}
