using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>
/// Source health through the gateway: a source's accepted events and refused requests counted per hour, silent once it has
/// been quiet past the tenant's gap (source.silent to a subscriber, once), back when it sends again (source.recovered).
/// </summary>
public sealed partial class SubscriptionEndToEndTests
{
    private static async Task<JsonElement?> SourceOf(HttpClient http, string source) =>
        (await http.GetFromJsonAsync<JsonElement>("v1/sources")).GetProperty("sources").EnumerateArray()
            .Select(s => (JsonElement?)s).FirstOrDefault(s => s!.Value.GetProperty("source").GetString() == source);

    [Fact]
    public async Task A_source_quiet_past_the_tenants_gap_is_announced_silent_once_and_recovered_when_it_sends_again()
    {
        using var http = await _pipeline.NewTenant("sources");
        await using var ops = new CrmWebhookReceiver(CrmWebhookReceiver.NewSecret());
        await SubscribeOk(http, ops, "source.silent", "source.recovered");
        using (var bad = await http.PutAsJsonAsync("v1/settings/sources", new { silentAfterSeconds = 0 }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("silentAfterSeconds", out _));
        }
        using (var put = await http.PutAsJsonAsync("v1/settings/sources", new { silentAfterSeconds = 3 }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        Assert.Equal(3, (await http.GetFromJsonAsync<JsonElement>("v1/settings/sources")).GetProperty("silentAfterSeconds").GetInt32());

        var source = $"pbx-{Guid.NewGuid():N}"[..20];
        object Event(string id, string? channel = "voice") => new
        {
            source, sourceEventId = id, contactId = id, channel, kind = "ended", occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1),
            identifiers = new { crmId = $"{source}-{id}" },
        };
        await TestPipeline.Push(http, Event("e1"));
        await TestPipeline.Push(http, Event("e2"));
        using (var refused = await http.PostAsJsonAsync("v1/events", Event("e3", channel: null)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }
        JsonElement? seen = null;
        await TestPipeline.Eventually(async () => (seen = await SourceOf(http, source)) is { } s && s.GetProperty("accepted24h").GetInt32() == 2
                && s.GetProperty("refused24h").GetInt32() == 1, Patience, () => Task.FromResult($"source so far: {seen}"));
        Assert.False(seen!.Value.GetProperty("silent").GetBoolean());
        Assert.Single(seen.Value.GetProperty("hours").EnumerateArray());

        // Quiet past the gap: silent, announced once.
        await TestPipeline.Eventually(() => Task.FromResult(ops.Received.Any(w => Type(w) == "source.silent")), Patience,
            () => Task.FromResult($"{ops.Received.Count} events so far"));
        var silent = Data(ops.Received.Single(w => Type(w) == "source.silent"));
        Assert.Equal((source, true, 3), (silent.GetProperty("source").GetString(), silent.GetProperty("silent").GetBoolean(),
            silent.GetProperty("silentAfterSeconds").GetInt32()));
        Assert.True((await SourceOf(http, source))!.Value.GetProperty("silent").GetBoolean());

        // It sends again: recovered; with the gap wide again, nothing more.
        await TestPipeline.Push(http, Event("e4"));
        await TestPipeline.Eventually(() => Task.FromResult(ops.Received.Any(w => Type(w) == "source.recovered")), Patience,
            () => Task.FromResult($"{string.Join(", ", ops.Received.Select(Type))}"));
        using (var wide = await http.PutAsJsonAsync("v1/settings/sources", new { silentAfterSeconds = 3600 }))
        {
            Assert.Equal(HttpStatusCode.OK, wide.StatusCode);
        }
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(["source.silent", "source.recovered"], ops.Received.Select(Type));
        Assert.False((await SourceOf(http, source))!.Value.GetProperty("silent").GetBoolean());
        Assert.All(ops.Received, w => Assert.True(w.SignatureValid));

        using var other = await _pipeline.NewTenant("sources-other");
        Assert.Null(await SourceOf(other, source));
    }
}
