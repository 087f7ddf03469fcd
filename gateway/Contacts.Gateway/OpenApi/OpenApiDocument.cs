namespace Contacts.Gateway.OpenApi;

/// <summary>
/// The OpenAPI document of the whole public surface, served at /openapi/v1.json. It is written by hand because the
/// gateway forwards rather than binds; a unit test keeps it in step with the routes and the event's fields.
/// </summary>
public static class OpenApiDocument
{
    public static string Json { get; } = Load();

    public static WebApplication MapOpenApiDocument(this WebApplication app)
    {
        app.MapGet("/openapi/v1.json", () => Results.Text(Json, "application/json")).ExcludeFromDescription();
        return app;
    }

    private static string Load()
    {
        using var stream = typeof(OpenApiDocument).Assembly.GetManifestResourceStream("openapi-v1.json")
            ?? throw new InvalidOperationException("openapi-v1.json is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
