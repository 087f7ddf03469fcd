using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Contacts.ServiceDefaults.OpenApi;

/// <summary>
/// Each service describes its own public endpoints (Microsoft.AspNetCore.OpenApi, document "v1"): schemas from the
/// request and result types, summaries and answers from the endpoints' metadata, and what the gateway adds in front of
/// every route (the API key, 401, 429, and 502/503/504 for a proxied service). tools/openapi merges the services'
/// documents into the one the gateway serves.
/// </summary>
public static class PublicApiDocument
{
    public const string Name = "v1";
    public const string Gateway = "gateway";

    public static IServiceCollection AddPublicApiDocument(this IServiceCollection services, string serviceName)
    {
        services.AddOpenApi(Name, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer(async (document, context, ct) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Contacts public API",
                    Version = "v1",
                    Description = "Contact-center platforms push contact events; agents and CRMs read a customer's cross-channel context. "
                        + "Every request carries a tenant API key ('Authorization: Bearer <key>' or 'X-Api-Key'); the tenant is taken from the key, "
                        + "never from a header. Errors are RFC 9457 ProblemDetails; validation errors name each field and the rule it broke.",
                };
                document.Servers = [];
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
                {
                    ["bearer"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer", Description = "A tenant API key." },
                    ["apiKey"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-Api-Key", Description = "A tenant API key." },
                    ["operator"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer", Description = "The operator key (Gateway:OperatorKey)." },
                };
                document.Security =
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] },
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("apiKey", document)] = [] },
                ];
                foreach (var (path, item) in document.Paths)
                {
                    foreach (var operation in item.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                    {
                        operation.Tags = new HashSet<OpenApiTagReference> { new(serviceName, document) };
                        if (path.StartsWith("/admin/", StringComparison.Ordinal))
                        {
                            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("operator", document)] = [] }];
                        }
                    }
                }
                document.Tags = new HashSet<OpenApiTag> { new() { Name = serviceName } };
                // The gateway's own answers (401, 429, 50x) are ProblemDetails even where the endpoint declares none.
                document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                if (!document.Components.Schemas.ContainsKey("ProblemDetails"))
                {
                    document.Components.Schemas["ProblemDetails"] = await context.GetOrCreateSchemaAsync(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), null, ct);
                }
            });
            options.AddSchemaTransformer((schema, _, _) =>
            {
                // Numbers are written as JSON numbers (and ingestion reads only those); the web defaults' leniency for
                // numbers in strings is not the contract.
                if (schema.Type is { } type && (type.HasFlag(JsonSchemaType.Number) || type.HasFlag(JsonSchemaType.Integer)) && type.HasFlag(JsonSchemaType.String))
                {
                    schema.Type = type & ~JsonSchemaType.String;
                    schema.Pattern = null;
                }
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                var path = "/" + context.Description.RelativePath;
                var tenantRoute = path.StartsWith("/v1/", StringComparison.Ordinal);
                AddProblem(operation, StatusCodes.Status401Unauthorized, tenantRoute ? "No valid tenant API key." : "No valid operator key.");
                if (tenantRoute)
                {
                    AddProblem(operation, StatusCodes.Status429TooManyRequests, "Over the tenant's rate limit; retry after the Retry-After header's seconds.", retryAfter: true);
                }
                if (tenantRoute && serviceName != Gateway)
                {
                    AddProblem(operation, StatusCodes.Status502BadGateway, "The service behind the gateway could not be reached.");
                    AddProblem(operation, StatusCodes.Status503ServiceUnavailable, "A dependency is restarting; retry (it is safe to repeat).", retryAfter: true);
                    AddProblem(operation, StatusCodes.Status504GatewayTimeout, "The service behind the gateway did not answer in time.");
                }
                foreach (var (status, response) in operation.Responses ?? [])
                {
                    if (response is OpenApiResponse concrete && (string.IsNullOrEmpty(concrete.Description) || concrete.Description == StandardDescription(status))
                        && ProblemDescriptions.TryGetValue(status, out var meaning))
                    {
                        concrete.Description = meaning;
                    }
                }
                return Task.CompletedTask;
            });
        });
        return services;
    }

    /// <summary>
    /// Rules of a type's schema that its C# shape cannot say (allowed values, lengths, what is required), for types whose
    /// handler validates them itself to name each broken rule; the describer should take them from the validator's own constants.
    /// </summary>
    public static IServiceCollection DescribeSchema<T>(this IServiceCollection services, Action<OpenApiSchema> describe) =>
        services.Configure<OpenApiOptions>(Name, options => options.AddSchemaTransformer((schema, context, _) =>
        {
            if (context.JsonTypeInfo.Type == typeof(T))
            {
                describe(schema);
            }
            return Task.CompletedTask;
        }));

    /// <summary>A property's schema within a described type's schema, to add its rules.</summary>
    public static OpenApiSchema Property(this OpenApiSchema schema, string name) =>
        (schema.Properties is { } properties && properties.TryGetValue(name, out var property) ? property as OpenApiSchema : null) ?? throw new InvalidOperationException($"the schema has no inline property {name}");

    /// <summary>The values a string takes, as an enum.</summary>
    public static OpenApiSchema OneOf(this OpenApiSchema schema, IEnumerable<string> values)
    {
        schema.Enum = values.Select(v => (JsonNode)JsonValue.Create(v)!).ToList();
        return schema;
    }

    /// <summary>What each error status means on this API, for answers the endpoint does not describe itself.</summary>
    private static readonly Dictionary<string, string> ProblemDescriptions = new()
    {
        ["400"] = "ValidationProblemDetails: errors keyed by field path, each with the rule broken.",
        ["404"] = "ProblemDetails: not found in this tenant.",
        ["409"] = "ProblemDetails: the request conflicts with the current state.",
        ["413"] = "ProblemDetails: the body is over the limit.",
        ["415"] = "ProblemDetails: the body must be application/json.",
        ["422"] = "ProblemDetails: the request cannot be applied as asked.",
    };

    private static string? StandardDescription(string status) =>
        int.TryParse(status, out var code) ? Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(code) : null;

    private static void AddProblem(OpenApiOperation operation, int status, string description, bool retryAfter = false)
    {
        operation.Responses ??= [];
        operation.Responses.TryAdd(status.ToString(System.Globalization.CultureInfo.InvariantCulture), new OpenApiResponse
        {
            Description = description,
            Headers = retryAfter ? new Dictionary<string, IOpenApiHeader> { ["Retry-After"] = new OpenApiHeader { Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } } } : null,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference("ProblemDetails") },
            },
        });
    }

    /// <summary>Summary and description of an operation, as the published document shows them.</summary>
    public static TBuilder Documented<TBuilder>(this TBuilder builder, string summary, string? description = null)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.WithSummary(summary);
        if (description is not null)
        {
            builder.WithDescription(description);
        }
        return builder;
    }

    /// <summary>What an answer with this status means, beyond its schema (declared as ProblemDetails if nothing else declares it).</summary>
    public static TBuilder Answers<TBuilder>(this TBuilder builder, int status, string description)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            // An answer declared nowhere else (the gateway's own, or a signature's 401) is a ProblemDetails.
            AddProblem(operation, status, description);
            if (operation.Responses![status.ToString(System.Globalization.CultureInfo.InvariantCulture)] is OpenApiResponse concrete)
            {
                concrete.Description = description;
            }
            return Task.CompletedTask;
        });

    /// <summary>A query parameter the handler reads itself (to answer its own validation problems), described for clients.</summary>
    public static TBuilder Query<TBuilder>(this TBuilder builder, string name, JsonSchemaType type, string? description = null,
        string? format = null, int? minimum = null, int? maximum = null, JsonNode? @default = null, IEnumerable<string>? allowed = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = name,
                In = ParameterLocation.Query,
                Description = description,
                Schema = new OpenApiSchema
                {
                    Type = type,
                    Format = format,
                    Minimum = minimum?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Maximum = maximum?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Default = @default?.DeepClone(),
                    Enum = allowed?.Select(a => (JsonNode)JsonValue.Create(a)!).ToList(),
                },
            });
            return Task.CompletedTask;
        });

    /// <summary>Describes a parameter the handler already binds (path or query), optionally with the values it takes, its bounds or its type.</summary>
    public static TBuilder Parameter<TBuilder>(this TBuilder builder, string name, string? description, IEnumerable<string>? allowed = null,
        int? minimum = null, int? maximum = null, JsonNode? @default = null, JsonSchemaType? type = null, string? format = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            var parameter = operation.Parameters?.OfType<OpenApiParameter>().FirstOrDefault(p => p.Name == name)
                ?? throw new InvalidOperationException($"the endpoint binds no parameter {name}");
            parameter.Description = description;
            if (parameter.Schema is OpenApiSchema schema)
            {
                schema.Enum = allowed?.Select(a => (JsonNode)JsonValue.Create(a)!).ToList() ?? schema.Enum;
                schema.Minimum = minimum?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? schema.Minimum;
                schema.Maximum = maximum?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? schema.Maximum;
                schema.Default = @default?.DeepClone() ?? schema.Default;
                schema.Type = type ?? schema.Type; // a value bound as text to answer its own 400, documented as what it must be
                schema.Format = format ?? (type is null ? schema.Format : null);
            }
            return Task.CompletedTask;
        });

    /// <summary>Describes the two parameters of a <see cref="Http.PageRequest"/> the handler binds: limit's bounds and the cursor.</summary>
    public static TBuilder Paged<TBuilder>(this TBuilder builder, string items, int @default, int maximum, string cursor = "The next cursor of the previous page.",
        JsonSchemaType? cursorType = null, string? cursorFormat = null, int? cursorMinimum = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.Parameter("limit", $"{items} per page.", minimum: 1, maximum: maximum, @default: @default, type: JsonSchemaType.Integer)
            .Parameter("after", cursor, minimum: cursorMinimum, type: cursorType, format: cursorFormat);
}
