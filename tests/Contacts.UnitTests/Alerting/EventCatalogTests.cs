using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Alerting.Webhooks;
using Json.Schema;

namespace Contacts.UnitTests;

/// <summary>The event catalog: every subscribable type with a schema its own example meets, and schemas strict enough to refuse a wrong body.</summary>
public sealed class EventCatalogTests
{
    private static bool Valid(JsonNode schema, JsonNode body)
    {
        var built = JsonSchema.FromText(schema.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() },
            new Uri($"https://contacts.test/{Guid.NewGuid():N}"));
        using var document = JsonDocument.Parse(body.ToJsonString());
        return built.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List }).IsValid;
    }

    [Fact]
    public void Every_subscribable_type_and_the_test_event_are_in_the_catalog_once()
    {
        Assert.Equal([.. WebhookTypes.Subscribable, WebhookTypes.Test], EventCatalog.All.Select(e => e.Type));
        Assert.Equal(WebhookTypes.Subscribable, EventCatalog.All.Where(e => e.Subscribable).Select(e => e.Type));
        Assert.All(EventCatalog.All, e => Assert.False(string.IsNullOrWhiteSpace(e.Description)));
    }

    [Fact]
    public void Each_example_meets_its_own_schema_and_no_other_types()
    {
        foreach (var entry in EventCatalog.All)
        {
            Assert.True(Valid(entry.Schema, entry.Example), $"{entry.Type}: its example does not meet its schema");
            Assert.All(EventCatalog.All.Where(o => o.Type != entry.Type), other => Assert.False(Valid(other.Schema, entry.Example),
                $"{entry.Type}'s example meets {other.Type}'s schema"));
        }
    }

    [Theory]
    [InlineData("id")]
    [InlineData("tenant")]
    [InlineData("data")]
    public void A_body_without_an_envelope_member_is_refused(string member)
    {
        var entry = EventCatalog.All.Single(e => e.Type == CustomerWebhookTypes.Merged);
        var body = entry.Example.DeepClone().AsObject();
        body.Remove(member);
        Assert.False(Valid(entry.Schema, body));
    }

    [Fact]
    public void A_merge_whose_merged_ids_are_not_ids_is_refused_and_one_naming_identifier_values_has_nowhere_to_put_them()
    {
        var entry = EventCatalog.All.Single(e => e.Type == CustomerWebhookTypes.Merged);
        var body = entry.Example.DeepClone();
        body["data"]!["mergedIds"] = new JsonArray(1, 2);
        Assert.False(Valid(entry.Schema, body));
        var properties = entry.Schema["properties"]!["data"]!["properties"]!.AsObject().Select(p => p.Key);
        Assert.Equal(["survivorId", "mergedIds", "identifierTypes"], properties);
    }
}
