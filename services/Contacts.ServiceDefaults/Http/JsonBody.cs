using System.Text.Json;

namespace Contacts.ServiceDefaults.Http;

/// <summary>Reads a JSON request body; one of the wrong shape is refused naming the field where it went wrong and why.</summary>
public static class JsonBody
{
    public static (T? Value, Dictionary<string, string[]> Errors) Read<T>(string body, JsonSerializerOptions options) where T : class
    {
        try
        {
            // A duplicated member or text that is not Unicode is refused rather than read one way of several.
            if (JsonAmbiguity.Find(System.Text.Encoding.UTF8.GetBytes(body), options.PropertyNameCaseInsensitive) is [var first, ..])
            {
                return (null, new() { [first.Field] = [first.Rule] });
            }
            return JsonSerializer.Deserialize<T>(body, options) is { } value
                ? (value, new())
                : (null, new() { ["body"] = ["must be a JSON object"] });
        }
        catch (JsonException ex)
        {
            return (null, new() { [Field(ex)] = [$"is not valid here: {ex.Message.Split(" Path:")[0]}"] });
        }
    }

    /// <summary>The field a deserialisation failed at, as the API names it ("weights.repeatContact"), or "body" at the top.</summary>
    public static string Field(JsonException ex) => ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
}
