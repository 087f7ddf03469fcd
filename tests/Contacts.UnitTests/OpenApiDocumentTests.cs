using System.Reflection;
using System.Text.Json;
using Contacts.Gateway.OpenApi;
using Contacts.Ingestion.Events;

namespace Contacts.UnitTests;

public sealed class OpenApiDocumentTests
{
    private static readonly JsonElement Document = JsonDocument.Parse(OpenApiDocument.Json).RootElement;

    [Theory]
    [InlineData("ContactEventV1", typeof(ContactEventV1))]
    [InlineData("Identifiers", typeof(IdentifiersV1))]
    [InlineData("Measures", typeof(MeasuresV1))]
    [InlineData("Survey", typeof(SurveyV1))]
    [InlineData("CustomerEffort", typeof(Contacts.Effort.Reads.CustomerEffortView))]
    [InlineData("Journey", typeof(Contacts.Effort.Reads.JourneyView))]
    [InlineData("JourneyContact", typeof(Contacts.Effort.Reads.ContactView))]
    [InlineData("EffortSettings", typeof(Contacts.Effort.Journeys.EffortSettings))]
    [InlineData("Replay", typeof(Contacts.Effort.Settings.ReplayView))]
    [InlineData("Calibration", typeof(Contacts.Effort.Calibration.CalibrationReport))]
    [InlineData("EffortDriver", typeof(Contacts.Contracts.EffortDriver))]
    [InlineData("Customer", typeof(Contacts.Identity.Customers.CustomerView))]
    [InlineData("HistoryPage", typeof(Contacts.Identity.Customers.HistoryPage))]
    [InlineData("IdentitySettings", typeof(Contacts.Identity.Settings.IdentitySettingsInput))]
    [InlineData("Alert", typeof(Contacts.Alerting.Alerts.AlertView))]
    [InlineData("AlertingSettings", typeof(Contacts.Alerting.Settings.AlertingSettings))]
    public void The_documented_event_has_exactly_the_fields_ingestion_reads(string schema, Type dto)
    {
        var documented = Document.GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties")
            .EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal);
        var read = dto.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<System.Text.Json.Serialization.JsonIgnoreAttribute>() is null)
            .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order(StringComparer.Ordinal);
        Assert.Equal(read, documented);
    }

    [Fact]
    public void Every_public_route_is_documented()
    {
        var paths = Document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "/v1/events", "/v1/events/batch", "/v1/customers", "/v1/customers/{id}", "/v1/webhooks/{platform}",
            "/v1/customers/{id}/effort", "/v1/customers/{id}/context", "/v1/settings/effort", "/v1/settings/effort/replays/{id}", "/v1/effort/calibration",
            "/v1/customers/{id}/history", "/v1/customers/{id}/split", "/v1/settings/identity",
            "/v1/alerts", "/v1/alerts/{id}", "/v1/alerts/{id}/acknowledge", "/v1/alerts/{id}/resolve", "/v1/settings/alerting" }, paths);
    }
    /// <summary>Every route of the gateway's proxy configuration, with each of its methods, is in the document.</summary>
    [Fact]
    public void Every_proxied_route_and_method_is_documented()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Contacts.sln")))
        {
            root = root.Parent!;
        }
        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(root.FullName, "gateway", "Contacts.Gateway", "appsettings.json")));
        var routes = settings.RootElement.GetProperty("ReverseProxy").GetProperty("Routes").EnumerateObject()
            .Select(r => (Path: r.Value.GetProperty("Match").GetProperty("Path").GetString()!,
                Methods: r.Value.GetProperty("Match").GetProperty("Methods").EnumerateArray().Select(m => m.GetString()!.ToLowerInvariant()).ToList()))
            .ToList();
        var paths = Document.GetProperty("paths");
        Assert.NotEmpty(routes);
        foreach (var (path, methods) in routes)
        {
            // A catch-all route is documented by the paths under it; a named parameter is {id} or its own name in the document.
            var documented = path.Contains("{**", StringComparison.Ordinal)
                ? paths.EnumerateObject().Where(p => p.Name.StartsWith(path[..path.IndexOf("{**", StringComparison.Ordinal)], StringComparison.Ordinal)).ToList()
                : paths.EnumerateObject().Where(p => p.Name == path).ToList();
            Assert.True(documented.Count > 0, $"{path} is routed by the gateway but not in openapi-v1.json");
            foreach (var method in methods)
            {
                Assert.True(documented.Any(p => p.Value.TryGetProperty(method, out _)), $"{method.ToUpperInvariant()} {path} is routed but not documented");
            }
        }
    }
}
