using System.Text.Json;
using Contacts.Gateway.OpenApi;
using Contacts.OpenApi;
using Contacts.ServiceDefaults.OpenApi;

namespace Contacts.UnitTests;

/// <summary>
/// The public API's document is generated from the endpoints (tools/openapi); these keep the committed and served copy
/// in step with them, and the gateway's routes in step with the documented operations, both ways.
/// </summary>
public sealed class OpenApiDocumentTests
{
    private static readonly Lazy<Task<string>> Generated = new(() => PublicApiGenerator.GenerateAsync());

    private static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Contacts.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("no Contacts.sln above the test's folder");
        }
        return root.FullName;
    }

    /// <summary>Documented operations: path, method (lower case), the host that serves it (its tag), and the operation.</summary>
    private static async Task<List<(string Path, string Method, string Service, JsonElement Operation)>> Operations()
    {
        var document = JsonDocument.Parse(await Generated.Value).RootElement;
        return [.. document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (path.Name, op.Name, op.Value.GetProperty("tags")[0].GetString()!, op.Value)))];
    }

    private static List<(string Name, string Cluster, string Path, List<string> Methods)> ProxyRoutes()
    {
        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), "gateway", "Contacts.Gateway", "appsettings.json")));
        return [.. settings.RootElement.GetProperty("ReverseProxy").GetProperty("Routes").EnumerateObject()
            .Select(r => (r.Name, r.Value.GetProperty("ClusterId").GetString()!, r.Value.GetProperty("Match").GetProperty("Path").GetString()!,
                r.Value.GetProperty("Match").GetProperty("Methods").EnumerateArray().Select(m => m.GetString()!.ToLowerInvariant()).ToList()))];
    }

    /// <summary>Whether a YARP route's path template matches a documented path: {x} one segment, {**x} the rest (at least one).</summary>
    internal static bool RouteMatches(string routePath, string documentedPath)
    {
        var route = routePath.Trim('/').Split('/');
        var path = documentedPath.Trim('/').Split('/');
        for (var i = 0; i < route.Length; i++)
        {
            if (route[i].StartsWith("{**", StringComparison.Ordinal))
            {
                return path.Length > i;
            }
            if (i >= path.Length || !(route[i].StartsWith('{') || route[i] == path[i]))
            {
                return false;
            }
        }
        return route.Length == path.Length;
    }

    [Theory]
    [InlineData("/v1/customers/{**rest}", "/v1/customers/{id}/history", true)]
    [InlineData("/v1/customers/{**rest}", "/v1/customers", false)]
    [InlineData("/v1/customers/{id}/split", "/v1/customers/{id}/split", true)]
    [InlineData("/v1/customers/{id}", "/v1/customers/{id}/split", false)]
    [InlineData("/v1/events", "/v1/events/batch", false)]
    [InlineData("/v1/webhooks/{platform}", "/v1/webhooks/{platform}", true)]
    public void A_route_template_matches_the_paths_it_forwards(string route, string path, bool matches) =>
        Assert.Equal(matches, RouteMatches(route, path));

    [Fact]
    public async Task The_committed_and_served_document_is_the_one_the_endpoints_generate()
    {
        var committed = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), PublicApiGenerator.DocumentPath));
        var generated = await Generated.Value;
        Assert.True(committed == generated, $"{PublicApiGenerator.DocumentPath} is not what the endpoints generate: run tools/openapi and commit it");
        Assert.Equal(generated, OpenApiDocument.Json);
        Assert.Equal("3.1.1", JsonDocument.Parse(generated).RootElement.GetProperty("openapi").GetString());
    }

    [Fact]
    public async Task Every_operation_is_named_summarised_and_answers_something_described()
    {
        var operations = await Operations();
        Assert.True(operations.Count >= 25, $"only {operations.Count} operations documented");
        foreach (var (path, method, _, operation) in operations)
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            Assert.True(operation.TryGetProperty("operationId", out _), $"{name} has no operationId (.WithName)");
            Assert.True(operation.TryGetProperty("summary", out var summary) && summary.GetString()!.Length > 10, $"{name} has no summary (.Documented)");
            var answers = operation.GetProperty("responses").EnumerateObject().ToList();
            Assert.Contains(answers, a => a.Name.StartsWith('2'));
            Assert.All(answers, a => Assert.False(string.IsNullOrEmpty(a.Value.GetProperty("description").GetString()), $"{name} answers {a.Name} undescribed"));
        }
    }

    [Fact]
    public async Task Every_tenant_operation_carries_the_gateway_answers_and_every_admin_one_the_operator_key()
    {
        foreach (var (path, method, service, operation) in await Operations())
        {
            var answers = operation.GetProperty("responses");
            Assert.True(answers.TryGetProperty("401", out _), $"{method} {path} lacks 401");
            if (path.StartsWith("/v1/", StringComparison.Ordinal))
            {
                Assert.True(answers.TryGetProperty("429", out _), $"{method} {path} lacks 429");
                Assert.Equal(service != PublicApiDocument.Gateway, answers.TryGetProperty("503", out _));
            }
            else
            {
                Assert.StartsWith("/admin/", path);
                Assert.Equal("operator", operation.GetProperty("security")[0].EnumerateObject().Single().Name);
            }
        }
    }

    /// <summary>Every event type alerting sends (the catalog's) is documented with the body it writes and the Standard Webhooks headers.</summary>
    [Fact]
    public async Task Every_webhook_event_is_documented_with_its_body_and_signature_headers()
    {
        var document = JsonDocument.Parse(await Generated.Value).RootElement;
        var webhooks = document.GetProperty("webhooks");
        Assert.Equal(Contacts.Alerting.Webhooks.EventCatalog.All.Select(e => e.Type).Order(StringComparer.Ordinal), webhooks.EnumerateObject().Select(w => w.Name));
        var schemas = document.GetProperty("components").GetProperty("schemas");
        foreach (var webhook in webhooks.EnumerateObject())
        {
            var post = webhook.Value.GetProperty("post");
            var reference = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString()!;
            Assert.Equal(webhook.Name.StartsWith("alert.", StringComparison.Ordinal) ? "#/components/schemas/AlertWebhook" : reference, reference);
            var envelope = schemas.GetProperty(reference.Split('/')[^1]).GetProperty("properties");
            Assert.Equal(["data", "id", "tenant", "timestamp", "type"], envelope.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Equal(["webhook-id", "webhook-timestamp", "webhook-signature"],
                post.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        }
        var data = document.GetProperty("components").GetProperty("schemas").GetProperty("AlertWebhookData").GetProperty("properties");
        Assert.Equal(typeof(Contacts.Alerting.Webhooks.AlertWebhookData).GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order(StringComparer.Ordinal),
            data.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    /// <summary>Every route of the gateway's proxy configuration, with each of its methods, forwards to operations its cluster documents.</summary>
    [Fact]
    public async Task Every_proxied_route_and_method_is_a_documented_operation_of_its_cluster()
    {
        var operations = await Operations();
        var routes = ProxyRoutes();
        Assert.NotEmpty(routes);
        foreach (var (name, cluster, path, methods) in routes)
        {
            foreach (var method in methods)
            {
                Assert.True(operations.Any(o => o.Method == method && o.Service == cluster && RouteMatches(path, o.Path)),
                    $"route {name} forwards {method.ToUpperInvariant()} {path} to {cluster}, which documents no such operation");
            }
        }
    }

    /// <summary>Every operation a service documents is reachable through the gateway, routed to that service.</summary>
    [Fact]
    public async Task Every_documented_service_operation_is_routed_to_its_service()
    {
        var routes = ProxyRoutes();
        var operations = await Operations();
        Assert.Contains(operations, o => o.Service == PublicApiDocument.Gateway);
        foreach (var (path, method, service, _) in operations.Where(o => o.Service != PublicApiDocument.Gateway))
        {
            // As YARP picks among matching routes: one without a catch-all first, then the one with more literal segments.
            var routed = routes.Where(r => r.Methods.Contains(method) && RouteMatches(r.Path, path))
                .OrderByDescending(r => !r.Path.Contains("{**", StringComparison.Ordinal))
                .ThenByDescending(r => r.Path.Split('/').Count(segment => !segment.StartsWith('{')))
                .ToList();
            Assert.True(routed.Count > 0, $"{method.ToUpperInvariant()} {path} ({service}) is documented but no gateway route forwards it");
            Assert.True(routed[0].Cluster == service, $"route {routed[0].Name} sends {method.ToUpperInvariant()} {path} to {routed[0].Cluster}, but {service} serves it");
        }
    }
}
