using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Contacts.Ingestion.Events;

/// <summary>
/// The JSON types of the canonical event's fields, checked before deserializing so that every wrong type is named at once
/// (the deserializer stops at the first) and nothing a number or date cannot hold (NaN, Infinity, year 0001 with an offset,
/// 1e400) reaches the rules or the database. Unknown properties are ignored, as the deserializer does.
/// </summary>
public static partial class ContactEventShape
{
    private enum Kind
    {
        Text,
        DateTime,
        Seconds,
        WholeNumber,
        Boolean,
        Object,
    }

    private static readonly Dictionary<string, Kind> Fields = new(StringComparer.OrdinalIgnoreCase)
    {
        ["source"] = Kind.Text, ["sourceEventId"] = Kind.Text, ["contactId"] = Kind.Text, ["channel"] = Kind.Text,
        ["direction"] = Kind.Text, ["kind"] = Kind.Text, ["topic"] = Kind.Text, ["initialContactId"] = Kind.Text,
        ["previousContactId"] = Kind.Text, ["summary"] = Kind.Text, ["outcome"] = Kind.Text,
        ["occurredAt"] = Kind.DateTime, ["startedAt"] = Kind.DateTime, ["endedAt"] = Kind.DateTime,
        ["identifiers"] = Kind.Object, ["measures"] = Kind.Object, ["survey"] = Kind.Object,
        ["promise"] = Kind.Object, ["promise.kind"] = Kind.Text, ["promise.dueAt"] = Kind.DateTime,
        ["identifiers.phone"] = Kind.Text, ["identifiers.email"] = Kind.Text, ["identifiers.crmId"] = Kind.Text,
        ["identifiers.accountNumber"] = Kind.Text, ["identifiers.handle"] = Kind.Text, ["identifiers.deviceId"] = Kind.Text,
        ["measures.queueWaitSeconds"] = Kind.Seconds, ["measures.holdSeconds"] = Kind.Seconds, ["measures.handleSeconds"] = Kind.Seconds,
        ["measures.transfers"] = Kind.WholeNumber, ["measures.abandoned"] = Kind.Boolean, ["measures.resolved"] = Kind.Boolean,
        ["survey.cesScore"] = Kind.WholeNumber,
    };

    /// <summary>The canonical spelling of a field path ("Measures.HoldSeconds" -> "measures.holdSeconds"), or the path as given.</summary>
    public static string Canonical(string path) => Fields.Keys.FirstOrDefault(k => k.Equals(path, StringComparison.OrdinalIgnoreCase)) ?? path;

    /// <summary>Every field whose JSON value has the wrong type or cannot be represented, with the rule it breaks.</summary>
    public static Dictionary<string, string[]> Check(JsonElement body)
    {
        var errors = new Dictionary<string, string[]>();
        Walk(body, "", errors);
        return errors;
    }

    /// <summary>The event with the given fields removed (so the remaining ones can be judged), or null if it cannot be rewritten.</summary>
    public static JsonElement? Without(JsonElement body, IEnumerable<string> fields)
    {
        try
        {
            var root = System.Text.Json.Nodes.JsonNode.Parse(body.GetRawText())!.AsObject();
            foreach (var field in fields)
            {
                var parts = field.Split('.');
                var parent = root;
                foreach (var part in parts[..^1])
                {
                    parent = parent.FirstOrDefault(p => p.Key.Equals(part, StringComparison.OrdinalIgnoreCase)).Value as System.Text.Json.Nodes.JsonObject;
                    if (parent is null)
                    {
                        break;
                    }
                }
                if (parent?.FirstOrDefault(p => p.Key.Equals(parts[^1], StringComparison.OrdinalIgnoreCase)).Key is { } key)
                {
                    parent.Remove(key);
                }
            }
            return JsonSerializer.SerializeToElement(root);
        }
        catch (Exception ex) when (ex is InvalidOperationException or JsonException)
        {
            return null; // text no JSON writer accepts sits elsewhere in the body; the wrong types alone are answered
        }
    }

    private static void Walk(JsonElement obj, string prefix, Dictionary<string, string[]> errors)
    {
        foreach (var property in obj.EnumerateObject())
        {
            var path = prefix + property.Name;
            if (!Fields.TryGetValue(path, out var kind) || property.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }
            var field = Canonical(path);
            if (Problem(kind, property.Value) is { } rule)
            {
                errors[field] = [rule];
            }
            else if (kind == Kind.Object)
            {
                Walk(property.Value, field + ".", errors);
            }
        }
    }

    private static string? Problem(Kind kind, JsonElement value) => kind switch
    {
        Kind.Text => value.ValueKind != JsonValueKind.String ? $"must be a JSON string; got {Describe(value)}" : TextProblem(value),
        Kind.DateTime => value.ValueKind != JsonValueKind.String ? $"must be an ISO 8601 date-time string with offset, such as 2026-11-20T10:15:00Z; got {Describe(value)}"
            : TextProblem(value) ?? DateProblem(value.GetString()!),
        Kind.Seconds => value.ValueKind != JsonValueKind.Number
                ? $"must be a JSON number of seconds (a finite number, not a string, NaN or Infinity); got {Describe(value)}"
            : !value.TryGetDouble(out var seconds) || !double.IsFinite(seconds) ? "must be a finite number of seconds; it is too large to represent"
            : null,
        Kind.WholeNumber => value.ValueKind != JsonValueKind.Number ? $"must be a JSON whole number; got {Describe(value)}"
            : !value.TryGetInt32(out _) ? "must be a whole number between -2147483648 and 2147483647 (no fraction, no exponent)" : null,
        Kind.Boolean => value.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : $"must be true or false; got {Describe(value)}",
        Kind.Object => value.ValueKind == JsonValueKind.Object ? null : $"must be a JSON object; got {Describe(value)}",
        _ => null,
    };

    private static string? TextProblem(JsonElement value)
    {
        try
        {
            return value.GetString()!.Contains('\0') ? "must not contain the NUL character" : null;
        }
        catch (InvalidOperationException)
        {
            return "must be valid Unicode text (an unpaired surrogate escape such as \\ud800 is not)";
        }
    }

    /// <summary>A real calendar date-time with an explicit offset (a local time without one would be read in the server's zone).</summary>
    private static string? DateProblem(string text)
    {
        const string Expected = "must be an ISO 8601 date-time with offset, such as 2026-11-20T10:15:00Z";
        if (!DateTimePattern().IsMatch(text))
        {
            return $"{Expected}; got \"{Shorten(text)}\"";
        }
        try
        {
            return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _)
                ? null
                : $"{Expected}, a date and time that exist (month 1-12, a day the month has, hour 0-23, offset within 14 hours); got \"{Shorten(text)}\"";
        }
        catch (ArgumentOutOfRangeException)
        {
            return $"{Expected}, within years 0001 to 9999 once the offset is applied; got \"{Shorten(text)}\"";
        }
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string {Shorten(value.GetRawText())}",
        JsonValueKind.Number => $"the number {Shorten(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };

    /// <summary>Echoes at most 40 characters of the caller's value, with control characters escaped, so answers stay small and printable.</summary>
    private static string Shorten(string text)
    {
        var cut = text.Length > 40 ? text[..40] + "..." : text;
        var printable = new StringBuilder(cut.Length);
        foreach (var c in cut)
        {
            printable.Append(char.IsControl(c) || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c);
        }
        return printable.ToString();
    }

    /// <summary>
    /// Where in a body that is not JSON the reading failed, as a field path ("events[2].measures.holdSeconds"), so that
    /// NaN, Infinity or a truncated value is answered with the field it sits in; null when it failed outside any field.
    /// </summary>
    public static string? PathOfSyntaxError(ReadOnlySpan<byte> json)
    {
        var frames = new List<(bool IsArray, int Index, string? Property)>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        frames[^1] = frames[^1] with { Property = PropertyName(ref reader) };
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        CountValue(frames);
                        frames.Add((reader.TokenType == JsonTokenType.StartArray, -1, null));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        ValueDone(frames);
                        break;
                    default:
                        CountValue(frames);
                        ValueDone(frames);
                        break;
                }
            }
            return null;
        }
        catch (JsonException)
        {
            if (json[(int)reader.BytesConsumed..].Trim(" \t\r\n"u8).Length == 0 || frames.Count > 4)
            {
                return null; // the body ends before the JSON does, or nests deeper than any field: the body is at fault
            }
            // The innermost array has not counted the value that failed; outer arrays have counted the one being read.
            var segments = frames.Select((f, i) => f.IsArray ? $"[{(i == frames.Count - 1 ? f.Index + 1 : f.Index)}]" : f.Property).Where(s => s is not null).ToList();
            var path = string.Join(".", segments).Replace(".[", "[", StringComparison.Ordinal);
            if (path.Length == 0)
            {
                return null;
            }
            // A batch item's fields are named like a single event's: events[2].measures.holdSeconds.
            return BatchItemPath().Match(path) is { Success: true } item
                ? $"events[{item.Groups[1].Value}].{Canonical(item.Groups[2].Value)}"
                : Canonical(path);
        }
    }

    private static void CountValue(List<(bool IsArray, int Index, string? Property)> frames)
    {
        if (frames.Count > 0 && frames[^1].IsArray)
        {
            frames[^1] = frames[^1] with { Index = frames[^1].Index + 1 };
        }
    }

    /// <summary>A property's value has been read whole, so a failure after it is not in it.</summary>
    private static void ValueDone(List<(bool IsArray, int Index, string? Property)> frames)
    {
        if (frames.Count > 0 && !frames[^1].IsArray)
        {
            frames[^1] = frames[^1] with { Property = null };
        }
    }

    private static string PropertyName(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString() ?? "";
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?(Z|[+-][0-9]{2}:[0-9]{2})$")]
    private static partial Regex DateTimePattern();

    [GeneratedRegex(@"^events\[([0-9]+)\]\.(.+)$")]
    private static partial Regex BatchItemPath();
}
