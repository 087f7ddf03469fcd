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
    public void The_documented_event_has_exactly_the_fields_ingestion_reads(string schema, Type dto)
    {
        var documented = Document.GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties")
            .EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal);
        var read = dto.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order(StringComparer.Ordinal);
        Assert.Equal(read, documented);
    }

    [Fact]
    public void Every_public_route_is_documented()
    {
        var paths = Document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "/v1/events", "/v1/events/batch", "/v1/customers", "/v1/customers/{id}", "/v1/webhooks/{platform}" }, paths);
    }
}
