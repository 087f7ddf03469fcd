using System.Text;
using System.Text.Json;

namespace Contacts.ServiceDefaults.Http;

/// <summary>A place in a JSON body that two readers could take differently, and the rule it breaks.</summary>
public sealed record JsonAmbiguityProblem(string Field, string Rule);

/// <summary>
/// Finds what makes a syntactically valid JSON body ambiguous: an object member given twice (the deserializer keeps the
/// last, another reader of the same bytes, such as a signature-checked audit, may keep the first), and text that is not
/// Unicode (an unpaired surrogate escape such as \ud800, which System.Text.Json parses but cannot turn into a string). A pure
/// function of the bytes; fields are named by path ("events[2].identifiers.email"), an unreadable name by its escaped text.
/// </summary>
public static class JsonAmbiguity
{
    public const string NotUnicode = "an unpaired surrogate escape such as \\ud800 is not Unicode text";

    private sealed class Frame(bool isArray, string path, bool ignoreCase)
    {
        public bool IsArray { get; } = isArray;
        public string Path { get; } = path;
        public int Index { get; set; } = -1;
        public string? Property { get; set; }
        public HashSet<string> Names { get; } = new(ignoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
    }

    /// <summary>
    /// Every duplicated member and every property name that is not Unicode text (and, with <paramref name="checkValues"/>,
    /// every string value that is not), at most <paramref name="limit"/>. With <paramref name="ignoreCase"/>, names that differ
    /// only in case count as the same member, as they do for a case-insensitive deserializer. Where the body stops being JSON
    /// the search stops, with what it found before: the syntax error is the parser's to name.
    /// </summary>
    public static IReadOnlyList<JsonAmbiguityProblem> Find(ReadOnlySpan<byte> json, bool ignoreCase = false, bool checkValues = false, int limit = 20)
    {
        var problems = new List<JsonAmbiguityProblem>();
        var frames = new List<Frame>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            Walk(ref reader, frames, problems, ignoreCase, checkValues, limit);
        }
        catch (JsonException)
        {
        }
        return problems;
    }

    private static void Walk(ref Utf8JsonReader reader, List<Frame> frames, List<JsonAmbiguityProblem> problems, bool ignoreCase, bool checkValues, int limit)
    {
        while (problems.Count < limit && reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    frames.Add(new Frame(reader.TokenType == JsonTokenType.StartArray, ValuePath(frames), ignoreCase));
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    frames.RemoveAt(frames.Count - 1);
                    break;
                case JsonTokenType.PropertyName:
                    var frame = frames[^1];
                    if (Text(ref reader) is { } name)
                    {
                        frame.Property = name;
                        if (!frame.Names.Add(name))
                        {
                            problems.Add(new(Join(frame.Path, name), ignoreCase
                                ? "is given more than once in the same object (names that differ only in case are the same field); give each field once"
                                : "is given more than once in the same object; give each field once"));
                        }
                    }
                    else
                    {
                        frame.Property = Raw(ref reader);
                        problems.Add(new(Join(frame.Path, frame.Property), $"is a property name that is not valid text: {NotUnicode}"));
                    }
                    break;
                case JsonTokenType.String:
                    var path = ValuePath(frames);
                    if (checkValues && Text(ref reader) is null)
                    {
                        problems.Add(new(path.Length == 0 ? "body" : path, $"must be valid text: {NotUnicode}"));
                    }
                    break;
                default:
                    _ = ValuePath(frames);
                    break;
            }
        }
    }

    /// <summary>The path of the value being read: its container's member or next index (counted here), "" at the top.</summary>
    private static string ValuePath(List<Frame> frames)
    {
        if (frames.Count == 0)
        {
            return "";
        }
        var container = frames[^1];
        if (container.IsArray)
        {
            container.Index++;
            return $"{container.Path}[{container.Index}]";
        }
        return Join(container.Path, container.Property ?? "");
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static string? Text(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The name as it was written, escapes and all (valid UTF-8: the reader has checked the bytes).</summary>
    private static string Raw(ref Utf8JsonReader reader) =>
        Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan);
}
