using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Ingestion.Platforms;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.ServiceDefaults.Webhooks;
using Microsoft.AspNetCore.WebUtilities;

namespace Contacts.IntegrationTests;

/// <summary>
/// Generated hostile input through the gateway: valid requests to each ingestion route (a canonical event, a batch, each
/// platform's webhook) mutated in their values, names, structure, bytes and headers, signed again with the tenant's secret
/// so that they reach the parser. None may answer 5xx; every 4xx is ProblemDetails; and the rows stored are exactly the
/// items the answer says were newly accepted. Fixed seed; CONTACTS_FUZZ_COUNT sets the requests per route (default 120,
/// a few seconds per route) for soak runs. A request that answers 5xx is written to TestResults/hostile-found/ in the
/// corpus format: fix the cause and move it into HostileCorpus/.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class GeneratedInputTests(ServersFixture servers, HostileCorpusPipeline corpus, ITestOutputHelper output)
    : IClassFixture<HostileCorpusPipeline>
{
    public const int Seed = 3030;
    private const string TwilioToken = "corpus-twilio-token";
    private const string ZendeskSecret = "corpus-zendesk-secret";
    private const string WebhookSecret = "whsec_Y29ycHVzLXNlY3JldA==";

    private static int Count => int.TryParse(Environment.GetEnvironmentVariable("CONTACTS_FUZZ_COUNT"), out var n) && n > 0 ? n : 120;

    public static TheoryData<string> Routes() => ["events", "batch", "amazon-connect", "genesys-cloud", "twilio", "zendesk", "webhook"];

    private sealed record Generated(string Path, string? ContentType, byte[] Body, Dictionary<string, string> Headers, string Mutations);

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Mutated_requests_never_answer_5xx_and_store_exactly_what_they_accept(string route)
    {
        var (pipeline, _) = await corpus.Start(servers);
        // A stable seed per route (string.GetHashCode differs per process).
        var random = new Random(route.Aggregate(Seed, (h, c) => unchecked(h * 31 + c)));
        using var http = new HttpClient { BaseAddress = pipeline.Pipeline.GatewayAddress, Timeout = TimeSpan.FromSeconds(30) };
        const string Stored = "select count(*) from ingestion.received_events";
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        for (var i = 0; i < Count; i++)
        {
            var request = Generate(route, i, random, pipeline.Pipeline.GatewayAddress);
            var before = await pipeline.Count(Stored);
            var (status, mediaType, text) = await Send(http, request, pipeline.KeyA);
            var stored = await pipeline.Count(Stored) - before;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var accepted = status >= 500 ? 0 : NewlyAccepted(status, text);
            if (status >= 500)
            {
                failures.Add($"#{i} answered {status} ({request.Mutations}); kept as {Keep(route, i, request, status, text)}: {Shorten(text)}");
            }
            else if (status >= 400 && mediaType != "application/problem+json")
            {
                failures.Add($"#{i} answered {status} as {mediaType ?? "no content type"}, not ProblemDetails ({request.Mutations}): {Shorten(text)}");
            }
            if (stored != accepted)
            {
                failures.Add($"#{i} answered {status} accepting {accepted} new item(s) but {stored} row(s) were stored ({request.Mutations}): {Shorten(text)}");
            }
        }
        output.WriteLine($"{route}: {Count} requests, seed {Seed}; statuses {string.Join(", ", statuses.Select(s => $"{s.Key}x{s.Value}"))}");
        Assert.True(failures.Count == 0, $"{failures.Count} of {Count} generated requests to {route} failed:\n{string.Join("\n", failures.Take(20))}");
        // The generator must reach the parser, not only the signature check: some requests are accepted, some refused as bad input.
        Assert.True(statuses.Keys.Any(s => s is 200 or 202), $"no generated request to {route} was accepted: {string.Join(", ", statuses)}");
        Assert.True(statuses.GetValueOrDefault(400) > 0, $"no generated request to {route} was refused as bad input: {string.Join(", ", statuses)}");
    }

    /// <summary>Items the answer says were stored now: 202 and not a duplicate (a single event, a batch's or a webhook's results).</summary>
    private static long NewlyAccepted(int status, string text)
    {
        if (status is not (200 or 202))
        {
            return 0;
        }
        var body = JsonDocument.Parse(text).RootElement;
        if (body.TryGetProperty("results", out var results))
        {
            return results.EnumerateArray().Count(r => r.GetProperty("status").GetInt32() == 202 && !r.GetProperty("duplicate").GetBoolean());
        }
        return body.TryGetProperty("duplicate", out var duplicate) && !duplicate.GetBoolean() ? 1 : 0;
    }

    private static async Task<(int Status, string? MediaType, string Body)> Send(HttpClient http, Generated generated, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, generated.Path.TrimStart('/')) { Content = new ByteArrayContent(generated.Body) };
        if (generated.ContentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", generated.ContentType);
        }
        if (!generated.Headers.ContainsKey("Authorization"))
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}");
        }
        foreach (var (name, value) in generated.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Writes a request that answered 5xx as a hostile corpus case, and answers where.</summary>
    private static string Keep(string route, int i, Generated generated, int status, string answer)
    {
        var folder = Path.Combine(ServersFixture.ResultsRoot, "hostile-found");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, $"{route}-seed{Seed}-{i}.json");
        var spec = new JsonObject
        {
            ["description"] = $"found by GeneratedInputTests (seed {Seed}, request {i}): {generated.Mutations}; it answered {status}: {Shorten(answer)}"
                + (route is "twilio" or "zendesk" or "webhook" ? " (signed when sent; re-sign it, or expect the signature's 401, before keeping it)" : ""),
            ["method"] = "POST",
            ["path"] = generated.Path,
            ["auth"] = "tenant",
            ["contentType"] = generated.ContentType,
            ["expect"] = 400,
            ["rawBase64"] = Convert.ToBase64String(generated.Body),
            ["headers"] = new JsonObject(generated.Headers.Where(h => h.Key != "Authorization").Select(h => KeyValuePair.Create(h.Key, (JsonNode?)h.Value))),
        };
        File.WriteAllText(file, spec.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return file;
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "..." : text;

    // ---- generation ----

    private static Generated Generate(string route, int i, Random random, Uri gateway)
    {
        var mutations = new List<string>();
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? contentType = route == "twilio" ? "application/x-www-form-urlencoded" : "application/json";
        byte[] body;
        if (route == "twilio")
        {
            body = MutateForm(TwilioSeed(i), random, mutations);
        }
        else
        {
            var root = JsonNode.Parse(Seeded(route, i))!;
            // About one request in eight goes unmutated, so the accepted path is exercised alongside the refusals.
            var count = random.Next(8) == 0 ? 0 : 1 + random.Next(3);
            for (var m = 0; m < count; m++)
            {
                MutateJson(root, random, mutations);
            }
            body = Encoding.UTF8.GetBytes(ApplyMarkers(root.ToJsonString(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping })));
        }
        if (random.Next(8) == 0)
        {
            body = MutateBytes(body, random, mutations);
        }
        if (random.Next(6) == 0)
        {
            contentType = MutateHeaders(route, random, headers, contentType, mutations);
        }
        Sign(route, i, gateway, body, headers);
        var path = route switch
        {
            "events" => "/v1/events",
            "batch" => "/v1/events/batch",
            _ => $"/v1/webhooks/{route}",
        };
        return new Generated(path, contentType, body, headers, mutations.Count == 0 ? "unmutated" : string.Join("; ", mutations));
    }

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PlatformFixtures", name));

    private static string CanonicalEvent(string id) => JsonSerializer.Serialize(new
    {
        source = "fuzz",
        sourceEventId = id,
        contactId = $"c-{id}",
        channel = "voice",
        direction = "inbound",
        kind = "ended",
        occurredAt = "2026-11-20T10:15:00Z",
        startedAt = "2026-11-20T10:00:00Z",
        endedAt = "2026-11-20T10:15:00Z",
        identifiers = new { phone = "+44 20 7946 0958", email = "fuzz.customer@example.com", crmId = "crm-fuzz" },
        topic = "billing",
        measures = new { queueWaitSeconds = 30, holdSeconds = 12.5, handleSeconds = 300, transfers = 1, abandoned = false, resolved = true },
    });

    /// <summary>A valid request of the route, with ids of its own so an accepted one is new.</summary>
    private static string Seeded(string route, int i)
    {
        var id = $"fuzz-{route}-{Seed}-{i}";
        switch (route)
        {
            case "events":
                return CanonicalEvent(id);
            case "batch":
                return $$"""{"events":[{{CanonicalEvent(id + "-0")}},{{CanonicalEvent(id + "-1")}},{{CanonicalEvent(id + "-2")}}]}""";
            case "webhook":
                var canonical = JsonNode.Parse(Fixture("webhook-canonical.json"))!;
                canonical["sourceEventId"] = id;
                return canonical.ToJsonString();
            default:
                var fixture = JsonNode.Parse(Fixture(route switch
                {
                    "amazon-connect" => "amazon-connect-disconnected.json",
                    "genesys-cloud" => "genesys-cloud-customer-start.json",
                    _ => "zendesk-ticket-created.json",
                }))!;
                fixture["id"] = id;
                return fixture.ToJsonString();
        }
    }

    private static string TwilioSeed(int i) =>
        System.Text.RegularExpressions.Regex.Replace(Fixture("twilio-call-completed.form").Trim(), "CallSid=[^&]*", $"CallSid=CAfuzz{Seed}{i:D6}");

    /// <summary>Values a platform or an attacker might send: edge dates, odd numbers, text that is not text, and the words the adapters look for.</summary>
    private static readonly string[] Strings =
    [
        "", " ", "\u0000", "nul\u0000inside", "@@LONE_HIGH@@", "@@LONE_LOW@@", "x@@LONE_HIGH@@y", "\ud83d\ude00", "\u202e", "\ufeff", "\r\n",
        new string('x', 5000), "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "2026-02-30T00:00:00Z", "2026-11-20T25:00:00Z",
        "2026-11-20", "10:15", "1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "NaN", "Infinity", "-1", "1e400", "99999999999999", "null",
        "true", "<script>", "'; drop table received_events; --", "+44 20 7946 0958", "tel:+13175550100", "sip:x@y", "a@b", "@", "+", "0",
        "VOICE", "CHAT", "EMAIL", "TASK", "MESSAGE", "CALLBACK", "INITIATED", "CONNECTED_TO_AGENT", "DISCONNECTED", "TRANSFER", "QUEUE_TRANSFER",
        "OUTBOUND", "INBOUND", "ABANDON", "EMAIL_ADDRESS", "TELEPHONE_NUMBER", "Amazon Connect Contact Event",
        "v2.detail.events.conversation.x.user.end", "v2.detail.events.conversation.x.acd.end", "v2.detail.events.conversation.x.customer.end",
        "v2.detail.events.conversation.x.acw",
        "zen:event-type:ticket.status_changed", "zen:event-type:ticket.comment_added", "SOLVED", "CLOSED",
        "voice", "chat", "sms", "email", "started", "ended", "transferred", "message", "survey_answered", "outbound",
    ];

    /// <summary>Number literals, some beyond what a double or a long holds, written as they are (markers keep them raw).</summary>
    private static readonly string[] Numbers =
    [
        "0", "-1", "1.5", "-0.0", "1e400", "-1e400", "1e-400", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "99999999999999", "253402300800000", "-62135596800001", "2147483648", "1795170927567", "604801", "1E+2", "0.0000001",
    ];

    private static readonly string[] Names = ["@@LONE_HIGH@@", "a@@LONE_LOW@@", "", "__proto__", "constructor", new string('n', 300), "\u0000", "$type", "$ref"];

    private static JsonNode? Hostile(Random random) => random.Next(4) switch
    {
        0 => JsonValue.Create(Strings[random.Next(Strings.Length)]),
        1 => JsonValue.Create($"@@NUM:{Numbers[random.Next(Numbers.Length)]}@@"),
        2 => random.Next(6) switch
        {
            0 => null,
            1 => JsonValue.Create(true),
            2 => new JsonArray(),
            3 => new JsonObject(),
            4 => new JsonArray(1, "a", null),
            _ => JsonValue.Create($"@@DEEP:{(random.Next(2) == 0 ? 70 : 2000)}@@"),
        },
        _ => JsonValue.Create(Strings[random.Next(Strings.Length)].ToLowerInvariant()),
    };

    /// <summary>Every member and element of the document, as (container, key or index).</summary>
    private static List<(JsonNode Container, string? Key, int Index)> Slots(JsonNode root)
    {
        var slots = new List<(JsonNode, string?, int)>();
        void Walk(JsonNode node)
        {
            if (node is JsonObject obj)
            {
                foreach (var (key, value) in obj.ToList())
                {
                    slots.Add((obj, key, -1));
                    if (value is not null)
                    {
                        Walk(value);
                    }
                }
            }
            else if (node is JsonArray array)
            {
                for (var i = 0; i < array.Count; i++)
                {
                    slots.Add((array, null, i));
                    if (array[i] is { } item)
                    {
                        Walk(item);
                    }
                }
            }
        }
        Walk(root);
        return slots;
    }

    private static void MutateJson(JsonNode root, Random random, List<string> mutations)
    {
        var slots = Slots(root);
        if (slots.Count == 0)
        {
            return;
        }
        var (container, key, index) = slots[random.Next(slots.Count)];
        var where = key ?? $"[{index}]";
        switch (random.Next(6))
        {
            case 0 or 1:
                var value = Hostile(random);
                if (container is JsonObject member)
                {
                    member[key!] = value;
                }
                else
                {
                    ((JsonArray)container)[index] = value;
                }
                mutations.Add($"{where} = {Describe(value)}");
                break;
            case 2 when container is JsonObject o:
                // Given twice: the marker becomes the same name once written.
                o[$"@@DUP@@{key}"] = Hostile(random);
                mutations.Add($"{where} given twice");
                break;
            case 3 when container is JsonObject o:
                var name = Names[random.Next(Names.Length)];
                o[name] = Hostile(random);
                mutations.Add($"member named {Describe(JsonValue.Create(name))} added");
                break;
            case 4 when container is JsonObject o:
                var moved = o[key!]?.DeepClone();
                o.Remove(key!);
                if (random.Next(2) == 0 && key!.Length > 0)
                {
                    var renamed = char.IsUpper(key[0]) ? key.ToLowerInvariant() : key.ToUpperInvariant();
                    o[renamed] = moved;
                    mutations.Add($"{where} renamed {renamed}");
                }
                else
                {
                    mutations.Add($"{where} removed");
                }
                break;
            default:
                if (container is JsonArray array)
                {
                    array.Add(Hostile(random));
                    mutations.Add("an element added");
                }
                else
                {
                    ((JsonObject)container)[key!] = new JsonArray(((JsonObject)container)[key!]?.DeepClone());
                    mutations.Add($"{where} wrapped in an array");
                }
                break;
        }
    }

    private static string Describe(JsonNode? value)
    {
        var text = value?.ToJsonString() ?? "null";
        return text.Length > 40 ? text[..40] + "...\"" : text;
    }

    /// <summary>What the JSON writer cannot write on its own: lone surrogate escapes, raw number literals, duplicate names, deep nesting.</summary>
    private static string ApplyMarkers(string json)
    {
        json = json.Replace("@@LONE_HIGH@@", "\\ud800", StringComparison.Ordinal).Replace("@@LONE_LOW@@", "\\udfff", StringComparison.Ordinal)
            .Replace("\"@@DUP@@", "\"", StringComparison.Ordinal);
        json = System.Text.RegularExpressions.Regex.Replace(json, "\"@@NUM:([^@]*)@@\"", "$1");
        return System.Text.RegularExpressions.Regex.Replace(json, "\"@@DEEP:([0-9]+)@@\"", m =>
        {
            var depth = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return new string('[', depth) + new string(']', depth);
        });
    }

    private static readonly string[] FormValues =
    [
        "%ED%A0%80", "%FF", "%", "%%", "%zz", "+", "a=b=c", "", "0001-01-01T00%3A00%3A00%2B01%3A00", "9999-12-31T23%3A59%3A59-14%3A00",
        "Tue%2C+30+Feb+2026+10%3A15%3A00+%2B0000", "1e400", "NaN", "-1", "99999999999999", "whatsapp%3A%2B14155550100", "client%3Aalice",
        "outbound-api", "queued", "ringing", "in-progress", "busy", "no-answer", "canceled", "failed", "received", "%00", new string('x', 5000),
    ];

    private static readonly string[] FormNames = ["CallSid", "MessageSid", "SmsSid", "CallStatus", "MessageStatus", "Direction", "From", "To", "Timestamp",
        "CallDuration", "ParentCallSid", "SequenceNumber", "%ED%A0%80", "", "%"];

    private static byte[] MutateForm(string form, Random random, List<string> mutations)
    {
        var pairs = form.Split('&').Select(p => p.Split('=', 2)).Select(p => (Name: p[0], Value: p.Length > 1 ? p[1] : "")).ToList();
        var count = random.Next(8) == 0 ? 0 : 1 + random.Next(3);
        for (var m = 0; m < count; m++)
        {
            var at = random.Next(pairs.Count);
            switch (random.Next(4))
            {
                case 0 or 1:
                    pairs[at] = (pairs[at].Name, FormValues[random.Next(FormValues.Length)]);
                    mutations.Add($"{pairs[at].Name} = {Cut(pairs[at].Value)}");
                    break;
                case 2:
                    // Repeated parameters are legal in a form: Twilio signs each.
                    var name = random.Next(2) == 0 ? pairs[at].Name : FormNames[random.Next(FormNames.Length)];
                    pairs.Add((name, FormValues[random.Next(FormValues.Length)]));
                    mutations.Add($"{Cut(name)} added again");
                    break;
                default:
                    mutations.Add($"{pairs[at].Name} removed");
                    pairs.RemoveAt(at);
                    if (pairs.Count == 0)
                    {
                        pairs.Add(("CallSid", "CA0"));
                    }
                    break;
            }
        }
        return Encoding.UTF8.GetBytes(string.Join("&", pairs.Select(p => $"{p.Name}={p.Value}")));
    }

    private static string Cut(string text) => text.Length > 40 ? text[..40] + "..." : text;

    private static byte[] MutateBytes(byte[] body, Random random, List<string> mutations)
    {
        var at = body.Length == 0 ? 0 : random.Next(body.Length);
        switch (random.Next(4))
        {
            case 0:
                mutations.Add($"cut at byte {at}");
                return body[..at];
            case 1:
                byte[] insert = random.Next(4) switch
                {
                    0 => [0xff],
                    1 => [0xed, 0xa0, 0x80], // a surrogate encoded in UTF-8, which UTF-8 forbids
                    2 => [0x00],
                    _ => [0xc3],
                };
                mutations.Add($"bytes {Convert.ToHexString(insert)} inserted at {at}");
                return [.. body[..at], .. insert, .. body[at..]];
            case 2:
                var flipped = (byte[])body.Clone();
                if (flipped.Length > 0)
                {
                    flipped[at] ^= (byte)(1 << random.Next(8));
                }
                mutations.Add($"a bit flipped at byte {at}");
                return flipped;
            default:
                mutations.Add("body emptied");
                return [];
        }
    }

    private static readonly string[] ContentTypes =
    [
        "application/json; charset=utf-16", "text/plain", "application/json; charset=\"", "application/x-www-form-urlencoded", "application/json;;;",
        "multipart/form-data; boundary=x", "application/problem+json", "application/JSON", "application/json; charset=latin1", "*/*",
    ];

    private static readonly string[] Timestamps =
        ["99999999999999", "-99999999999999", "9223372036854775807", "-1", "", "1e10", "0x10", " 1", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "abc"];

    private static string? MutateHeaders(string route, Random random, Dictionary<string, string> headers, string? contentType, List<string> mutations)
    {
        switch (random.Next(5))
        {
            case 0:
                var chosen = random.Next(5) == 0 ? null : ContentTypes[random.Next(ContentTypes.Length)];
                mutations.Add($"Content-Type: {chosen ?? "none"}");
                return chosen;
            case 1:
                var (name, value) = random.Next(4) switch
                {
                    0 => ("X-Contacts-Tenant", "tenant-b"),
                    1 => ("X-Contacts-Internal-Key", "not-the-key"),
                    2 => ("X-Contacts-Original-Url", random.Next(2) == 0 ? "http://[::1" : "javascript:alert(1)"),
                    _ => ("X-Forwarded-Host", new string('h', 2000)),
                };
                headers[name] = value;
                mutations.Add($"{name}: {Cut(value)}");
                return contentType;
            case 2:
                var timestamp = Timestamps[random.Next(Timestamps.Length)];
                headers[route == "zendesk" ? ZendeskAdapter.TimestampHeader : StandardWebhooks.TimestampHeader] = timestamp;
                mutations.Add($"timestamp {timestamp}");
                return contentType;
            case 3:
                headers[route switch { "twilio" => TwilioAdapter.SignatureHeader, "zendesk" => ZendeskAdapter.SignatureHeader, _ => StandardWebhooks.SignatureHeader }] =
                    random.Next(2) == 0 ? "v1,!!!" : "";
                mutations.Add("signature garbled");
                return contentType;
            default:
                headers["Authorization"] = random.Next(2) == 0 ? "Bearer " : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("tenant-a:ck_nope"));
                mutations.Add("credentials garbled");
                return contentType;
        }
    }

    /// <summary>Signs the final bytes with the tenant's secret (unless the signature itself was garbled), over a timestamp header if one was set.</summary>
    private static void Sign(string route, int i, Uri gateway, byte[] body, Dictionary<string, string> headers)
    {
        switch (route)
        {
            case "twilio" when !headers.ContainsKey(TwilioAdapter.SignatureHeader):
                var pairs = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body)).SelectMany(p => p.Value.Select(v => KeyValuePair.Create(p.Key, v ?? "")));
                headers[TwilioAdapter.SignatureHeader] = TwilioAdapter.Sign(TwilioToken, new Uri(gateway, "v1/webhooks/twilio").ToString(), pairs);
                break;
            case "zendesk" when !headers.ContainsKey(ZendeskAdapter.SignatureHeader):
                var at = headers.TryGetValue(ZendeskAdapter.TimestampHeader, out var given) ? given
                    : DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
                headers[ZendeskAdapter.TimestampHeader] = at;
                headers[ZendeskAdapter.SignatureHeader] = ZendeskAdapter.Sign(ZendeskSecret, at, body);
                break;
            case "webhook" when !headers.ContainsKey(StandardWebhooks.SignatureHeader):
                var timestamp = headers.TryGetValue(StandardWebhooks.TimestampHeader, out var set) ? set
                    : DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                var id = $"msg_fuzz_{Seed}_{i}";
                headers[StandardWebhooks.IdHeader] = id;
                headers[StandardWebhooks.TimestampHeader] = timestamp;
                headers[StandardWebhooks.SignatureHeader] = StandardWebhooks.Sign(WebhookSecret, id, timestamp, body);
                break;
        }
    }
}
