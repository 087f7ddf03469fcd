using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.ServiceDefaults.OpenApi;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;

namespace Contacts.OpenApi;

/// <summary>
/// The public API's document, generated from the endpoints: each service (and the gateway, for what it answers itself)
/// is hosted in memory without its servers, its "v1" document asked of Microsoft.AspNetCore.OpenApi, and the documents
/// merged into one. Two services may not document the same operation, nor one schema name two ways.
/// </summary>
public static class PublicApiGenerator
{
    /// <summary>Where the gateway's served document is kept, from the repository's root.</summary>
    public static readonly string DocumentPath = Path.Combine("gateway", "Contacts.Gateway", "OpenApi", "openapi-v1.json");

    /// <summary>Every host with public endpoints, by the tag its operations carry (the gateway's cluster name for a service).</summary>
    public static readonly IReadOnlyList<(string Service, Type EntryPoint)> Hosts =
    [
        ("ingestion", typeof(Contacts.Ingestion.Events.ContactEventV1)),
        ("identity", typeof(Contacts.Identity.Customers.CustomerView)),
        ("effort", typeof(Contacts.Effort.Reads.CustomerEffortView)),
        ("alerting", typeof(Contacts.Alerting.Settings.AlertingSettingsStore)),
        (PublicApiDocument.Gateway, typeof(Contacts.Gateway.Context.CustomerContextComposer)),
    ];

    private static readonly JsonSerializerOptions Written = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        IndentSize = 2,
    };

    /// <summary>The merged document as it is committed: indented JSON, paths and schemas in name order, one newline at the end.</summary>
    public static async Task<string> GenerateAsync(CancellationToken ct = default)
    {
        var documents = new List<(string Service, JsonObject Document)>();
        foreach (var (service, entryPoint) in Hosts)
        {
            documents.Add((service, await DocumentOf(entryPoint, ct)));
        }
        return Merge(documents).ToJsonString(Written) + "\n";
    }

    /// <summary>One host's own document, as its OpenAPI service generates it.</summary>
    public static async Task<JsonObject> DocumentOf(Type entryPoint, CancellationToken ct = default)
    {
        var host = (IDocumentHost)Activator.CreateInstance(typeof(DocumentHost<>).MakeGenericType(entryPoint))!;
        await using (host)
        {
            return await host.Document(ct);
        }
    }

    public static JsonObject Merge(IEnumerable<(string Service, JsonObject Document)> documents)
    {
        JsonObject? first = null;
        var paths = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        var schemas = new SortedDictionary<string, (string Service, JsonNode Schema)>(StringComparer.Ordinal);
        var securitySchemes = new SortedDictionary<string, JsonNode>(StringComparer.Ordinal);
        var webhooks = new SortedDictionary<string, JsonNode>(StringComparer.Ordinal);
        var tags = new List<JsonNode>();
        foreach (var (service, document) in documents)
        {
            first ??= document;
            foreach (var (path, item) in document["paths"]?.AsObject() ?? [])
            {
                var merged = paths.TryGetValue(path, out var existing) ? existing : paths[path] = [];
                foreach (var (method, operation) in item!.AsObject())
                {
                    var copy = operation!.DeepClone();
                    // Answers in status order, whichever transformer declared them first.
                    if (copy["responses"] is JsonObject responses)
                    {
                        copy["responses"] = new JsonObject(responses.OrderBy(r => r.Key, StringComparer.Ordinal)
                            .Select(r => KeyValuePair.Create(r.Key, r.Value?.DeepClone())).ToList());
                    }
                    if (!merged.TryAdd(method, copy))
                    {
                        throw new InvalidOperationException($"{method.ToUpperInvariant()} {path} is documented by two hosts (the second is {service})");
                    }
                }
            }
            foreach (var (name, webhook) in document["webhooks"]?.AsObject() ?? [])
            {
                if (!webhooks.TryAdd(name, webhook!.DeepClone()))
                {
                    throw new InvalidOperationException($"webhook {name} is documented by two hosts (the second is {service})");
                }
            }
            foreach (var (name, schema) in document["components"]?["schemas"]?.AsObject() ?? [])
            {
                if (schemas.TryGetValue(name, out var known))
                {
                    if (!JsonNode.DeepEquals(known.Schema, schema))
                    {
                        throw new InvalidOperationException($"schema {name} differs between {known.Service} and {service}: give one of the types another name");
                    }
                    continue;
                }
                schemas[name] = (service, schema!.DeepClone());
            }
            foreach (var (name, scheme) in document["components"]?["securitySchemes"]?.AsObject() ?? [])
            {
                securitySchemes.TryAdd(name, scheme!.DeepClone());
            }
            tags.AddRange((document["tags"]?.AsArray() ?? []).Select(t => t!.DeepClone()));
        }
        if (first is null)
        {
            throw new InvalidOperationException("no documents to merge");
        }
        var result = new JsonObject
        {
            ["openapi"] = first["openapi"]?.DeepClone(),
            ["info"] = first["info"]?.DeepClone(),
            ["paths"] = new JsonObject(paths.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["webhooks"] = new JsonObject(webhooks.Select(w => KeyValuePair.Create(w.Key, (JsonNode?)w.Value))),
            ["components"] = new JsonObject
            {
                ["schemas"] = new JsonObject(schemas.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)s.Value.Schema))),
                ["securitySchemes"] = new JsonObject(securitySchemes.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)s.Value))),
            },
            ["security"] = first["security"]?.DeepClone(),
            ["tags"] = new JsonArray([.. tags]),
        };
        return result;
    }

    private interface IDocumentHost : IAsyncDisposable
    {
        Task<JsonObject> Document(CancellationToken ct);
    }

    /// <summary>A host's own Program, run in memory: settings that let it build, none of its background work started.</summary>
    private sealed class DocumentHost<TEntryPoint> : WebApplicationFactory<TEntryPoint>, IDocumentHost where TEntryPoint : class
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment(Environments.Production);
            builder.ConfigureLogging(logging => logging.ClearProviders());
            builder.UseContentRoot(ContentRoot(typeof(TEntryPoint).Assembly.GetName().Name!));
            // Nothing connects: only the endpoints are read.
            builder.UseSetting("ConnectionStrings:postgres", "Host=127.0.0.1;Port=1;Database=openapi;Username=openapi");
            builder.UseSetting("ConnectionStrings:rabbitmq", "amqp://openapi:openapi@127.0.0.1:1/");
            // Hosts refuse to start without an internal key; this one serves no request.
            builder.UseSetting("Internal:Key", Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));
            foreach (var (service, _) in Hosts)
            {
                builder.UseSetting($"Gateway:Services:{service}", "http://127.0.0.1:1");
            }
            builder.ConfigureTestServices(services =>
            {
                // Migrations, the bus, relays and deliveries stay off; the web host itself stays, so the endpoints are built.
                foreach (var background in services.Where(d => d.ServiceType == typeof(IHostedService)
                    && d.ImplementationType?.Name != "GenericWebHostService").ToList())
                {
                    services.Remove(background);
                }
            });
        }

        /// <summary>The host's project folder (its appsettings.json) when run from the repository, else the build output.</summary>
        private static string ContentRoot(string project)
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                foreach (var candidate in new[] { Path.Combine(folder.FullName, "services", project), Path.Combine(folder.FullName, "gateway", project) })
                {
                    if (Directory.Exists(candidate))
                    {
                        return candidate;
                    }
                }
            }
            return AppContext.BaseDirectory;
        }

        public async Task<JsonObject> Document(CancellationToken ct)
        {
            var document = await Services.GetRequiredKeyedService<IOpenApiDocumentProvider>(PublicApiDocument.Name).GetOpenApiDocumentAsync(ct);
            using var text = new StringWriter();
            document.SerializeAsV31(new OpenApiJsonWriter(text));
            return JsonNode.Parse(text.ToString())!.AsObject();
        }
    }
}
