using System.Globalization;
using System.Text;
using System.Text.Json;
using Contacts.Ingestion.Events;
using Contacts.Ingestion.Platforms;

namespace Contacts.UnitTests.Ingestion.Platforms;

/// <summary>
/// The conformance corpus: payloads in the shapes the vendors publish (Platforms/Conformance/{platform}/*.json, each one's
/// source in SOURCES.md), each with the canonical events it must map to; every event must also pass the canonical rules.
/// </summary>
public sealed class ConformanceTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Ingestion", "Platforms", "Conformance");

    public static TheoryData<string> Cases => new(Directory.GetFiles(Folder, "*.json", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(Folder, f)).Order(StringComparer.Ordinal));

    [Fact]
    public void Every_platform_has_cases_and_every_case_a_noted_source()
    {
        var sources = File.ReadAllText(Path.Combine(Folder, "SOURCES.md"));
        foreach (var platform in new[] { "amazon-connect", "twilio", "genesys-cloud", "zendesk", "webhook" })
        {
            Assert.True(Directory.GetFiles(Path.Combine(Folder, platform), "*.json").Length >= 4, $"{platform} has fewer than 4 cases");
        }
        foreach (var file in Directory.GetFiles(Folder, "*.json", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(file);
            var platform = Path.GetFileName(Path.GetDirectoryName(file))!;
            Assert.True(sources.Contains($"{platform}/{name}", StringComparison.Ordinal)
                || sources.Contains($"{platform}/{name.Split('-')[0]}-", StringComparison.Ordinal)
                || (name.StartsWith("status-callback-", StringComparison.Ordinal) && sources.Contains($"{platform}/status-callback-*", StringComparison.Ordinal)),
                $"{platform}/{name} has no source in SOURCES.md");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_vendor_payload_maps_to_its_canonical_events(string file)
    {
        var spec = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, file))).RootElement;
        var adapter = PlatformAdapters.Find(spec.GetProperty("platform").GetString()!)!;
        // A signed case keeps its body as the exact string signed ("body"); others give it as JSON ("payload") or a form.
        var body = spec.TryGetProperty("form", out var form) ? form.GetString()!
            : spec.TryGetProperty("body", out var raw) ? raw.GetString()! : spec.GetProperty("payload").GetRawText();
        var url = spec.TryGetProperty("url", out var u) ? u.GetString()! : "https://contacts.example.com/v1/webhooks/" + adapter.Name;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (spec.TryGetProperty("signature", out var signature))
        {
            headers[TwilioAdapter.SignatureHeader] = signature.GetString()!;
        }
        if (spec.TryGetProperty("headers", out var sent))
        {
            foreach (var header in sent.EnumerateObject())
            {
                headers[header.Name] = header.Value.GetString()!;
            }
        }
        // Signed with a timestamp: received when it was signed, so the replay window holds for a recorded case.
        var receivedAt = spec.TryGetProperty("receivedAt", out var at) ? DateTimeOffset.Parse(at.GetString()!, CultureInfo.InvariantCulture) : DateTimeOffset.UtcNow;
        var request = new PlatformRequest(new Uri(url), headers, Encoding.UTF8.GetBytes(body), spec.GetProperty("contentType").GetString(), receivedAt);
        if (spec.TryGetProperty("token", out var token))
        {
            Assert.Null(adapter.Verify(request, token.GetString()));
        }
        if (spec.TryGetProperty("rejected", out var rejected))
        {
            Assert.Contains(rejected.GetString()!, adapter.Verify(request, spec.GetProperty("secret").GetString()) ?? "(accepted)");
            return;
        }

        var mapping = adapter.Map(request);

        if (spec.TryGetProperty("ignored", out var ignored))
        {
            Assert.Empty(mapping.Events);
            Assert.Contains(ignored.GetString()!, mapping.Ignored);
            return;
        }
        var expected = spec.GetProperty("expect").EnumerateArray().ToList();
        Assert.Equal(expected.Count, mapping.Events.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var e = mapping.Events[i];
            var validation = ContactEventValidator.Validate(e, "t", Guid.NewGuid(), request.ReceivedAt);
            Assert.True(validation.IsValid, string.Join("; ", validation.Errors.Select(kv => $"{kv.Key}: {string.Join(", ", kv.Value)}")));
            var actual = Flatten(validation.Event!, e);
            foreach (var field in expected[i].EnumerateObject())
            {
                Assert.True(actual.ContainsKey(field.Name), $"unknown field '{field.Name}' in {file}");
                var want = field.Value.ValueKind == JsonValueKind.Null ? null : field.Value.ValueKind == JsonValueKind.String ? field.Value.GetString() : field.Value.GetRawText();
                Assert.True(want == actual[field.Name], $"{file}: {field.Name} expected {want ?? "absent"}, got {actual[field.Name] ?? "absent"}");
            }
        }
    }

    /// <summary>
    /// The canonical event as the names the corpus uses: identifiers normalised, measures flat, times in UTC; a long summary is
    /// checked by its length (summaryLength) where writing it out would bury the case.
    /// </summary>
    private static Dictionary<string, string?> Flatten(Contacts.Contracts.ContactEventReceived normalized, ContactEventV1 e)
    {
        static string? Number(double? d) => d?.ToString(CultureInfo.InvariantCulture);
        static string? Time(DateTimeOffset? t) => t?.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture);
        string? Identifier(string type) => normalized.Identifiers.FirstOrDefault(i => i.Type == type)?.Value;
        var m = e.Measures;
        return new Dictionary<string, string?>
        {
            ["kind"] = normalized.Kind, ["contactId"] = normalized.ContactId, ["channel"] = normalized.Channel, ["direction"] = normalized.Direction,
            ["sourceEventId"] = normalized.SourceEventId, ["initialContactId"] = e.InitialContactId, ["previousContactId"] = e.PreviousContactId,
            ["occurredAt"] = Time(e.OccurredAt), ["startedAt"] = Time(e.StartedAt), ["endedAt"] = Time(e.EndedAt),
            ["phone"] = Identifier("phone"), ["email"] = Identifier("email"), ["handle"] = Identifier("handle"), ["crmId"] = Identifier("crm_id"),
            ["measures"] = m is null ? null : "present",
            ["queueWaitSeconds"] = Number(m?.QueueWaitSeconds), ["holdSeconds"] = Number(m?.HoldSeconds), ["handleSeconds"] = Number(m?.HandleSeconds),
            ["transfers"] = m?.Transfers?.ToString(CultureInfo.InvariantCulture), ["abandoned"] = m?.Abandoned is { } a ? (a ? "true" : "false") : null,
            ["resolved"] = m?.Resolved is { } r ? (r ? "true" : "false") : null,
            ["summary"] = normalized.Summary, ["summaryLength"] = normalized.Summary?.Length.ToString(CultureInfo.InvariantCulture),
            ["outcome"] = normalized.Outcome, ["promiseKind"] = normalized.Promise?.Kind, ["promiseDueAt"] = Time(normalized.Promise?.DueAt),
        };
    }
}
