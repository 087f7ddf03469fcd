using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

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

    /// <summary>
    /// A settings-style request body as T: 415 when it is not application/json, 400 (validation problem details) naming
    /// the field where it is not a T or a member given twice, or when it is not an object; otherwise the value.
    /// </summary>
    public static async Task<(T? Value, ProblemHttpResult? Refusal)> ReadRequest<T>(HttpRequest request, JsonSerializerOptions options, CancellationToken ct)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: "body: send it as application/json."));
        }
        try
        {
            return await request.ReadFromJsonAsync<T>(new JsonSerializerOptions(options) { AllowDuplicateProperties = false }, ct) is { } value
                ? (value, null)
                : (null, Invalid(new() { ["body"] = ["must be a JSON object"] }));
        }
        catch (JsonException e)
        {
            return (null, Invalid(new() { [Field(e)] = ["is not valid JSON of the expected type, or is given more than once"] }));
        }
    }

    /// <summary>A 400 naming each field and the rule it broke, as TypedResults.ValidationProblem writes it.</summary>
    public static ProblemHttpResult Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = StatusCodes.Status400BadRequest, Title = "One or more validation errors occurred." });

    /// <summary>The field a deserialisation failed at, as the API names it ("weights.repeatContact"), or "body" at the top.</summary>
    public static string Field(JsonException ex) => ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
}
