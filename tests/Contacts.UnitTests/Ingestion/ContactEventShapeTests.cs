using System.Text;
using System.Text.Json;
using Contacts.Ingestion.Events;

namespace Contacts.UnitTests;

/// <summary>Hostile JSON for every field of the canonical event: each answered as a 400 naming the field, never an exception.</summary>
public sealed class ContactEventShapeTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private const string Valid = """
        {"source":"corpus","sourceEventId":"e-1","contactId":"c-1","channel":"voice","kind":"ended",
         "occurredAt":"2026-11-22T11:00:00Z","identifiers":{"phone":"+44 20 7946 0958"}}
        """;

    /// <summary>The valid event with one field (a dotted path) set to the given raw JSON value.</summary>
    private static JsonElement With(string path, string rawValue)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(Valid)!.AsObject();
        var parts = path.Split('.');
        var target = root;
        foreach (var part in parts[..^1])
        {
            if (target[part] is not System.Text.Json.Nodes.JsonObject next)
            {
                next = [];
                target[part] = next;
            }
            target = next;
        }
        // Spliced in as text: a value such as an unpaired surrogate escape cannot pass through a JsonNode.
        target[parts[^1]] = "@@value@@";
        return JsonDocument.Parse(root.ToJsonString().Replace("\"@@value@@\"", rawValue, StringComparison.Ordinal)).RootElement;
    }

    private static Dictionary<string, string[]>? Problem(JsonElement element) => ContactEventEndpoints.Parse(element, "t", Now).Problem;

    public static TheoryData<string, string> WrongTypes => new()
    {
        { "source", "42" }, { "sourceEventId", "true" }, { "contactId", "{}" }, { "channel", "[\"voice\"]" }, { "direction", "1" },
        { "kind", "false" }, { "topic", "12.5" }, { "initialContactId", "[]" }, { "previousContactId", "{}" },
        { "occurredAt", "1732100000" }, { "startedAt", "true" }, { "endedAt", "{}" },
        { "identifiers", "\"+442079460958\"" }, { "identifiers", "[]" }, { "measures", "12" }, { "survey", "\"7\"" },
        { "identifiers.phone", "442079460958" }, { "identifiers.email", "true" }, { "identifiers.crmId", "123" },
        { "identifiers.accountNumber", "123456" }, { "identifiers.handle", "{}" }, { "identifiers.deviceId", "[]" },
        { "measures.queueWaitSeconds", "\"12\"" }, { "measures.holdSeconds", "\"NaN\"" }, { "measures.holdSeconds", "\"Infinity\"" },
        { "measures.handleSeconds", "\"-Infinity\"" }, { "measures.queueWaitSeconds", "true" }, { "measures.holdSeconds", "1e400" },
        { "measures.handleSeconds", "-1e400" },
        { "measures.transfers", "\"2\"" }, { "measures.transfers", "2.5" }, { "measures.transfers", "1e30" }, { "measures.transfers", "99999999999" },
        { "measures.abandoned", "\"true\"" }, { "measures.resolved", "1" },
        { "survey.cesScore", "\"7\"" }, { "survey.cesScore", "6.5" }, { "survey.cesScore", "1e10" },
        { "summary", "42" }, { "summary", "[\"called\"]" }, { "summary", "\"\\ud800\"" }, { "outcome", "true" }, { "promise", "\"tomorrow\"" },
        { "promise.kind", "1" }, { "promise.dueAt", "1732100000" }, { "promise.dueAt", "\"2026-02-30T10:00:00Z\"" },
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public void A_value_of_the_wrong_JSON_type_is_named(string field, string raw)
    {
        var problem = Problem(With(field, raw));
        Assert.NotNull(problem);
        Assert.Contains(field, problem.Keys);
    }

    public static TheoryData<string, string> ImpossibleDates
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var dateField in new[] { "occurredAt", "startedAt", "endedAt" })
            {
                foreach (var date in new[]
                         {
                             "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59-01:00",
                             "1970-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z",
                             "2026-11-20T25:00:00Z", "2026-11-20T10:61:00Z", "2026-11-20T10:00:00+15:00", "2026-11-20T10:00:00",
                             "2026-11-20", "+275760-09-13T00:00:00Z", "2026-11-20T10:00:00.123456789Z", "", "yesterday", "2100-01-01T00:00:00Z",
                         })
                {
                    data.Add(dateField, date);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(ImpossibleDates))]
    public void An_extreme_or_impossible_date_is_named(string field, string date)
    {
        var problem = Problem(With(field, JsonSerializer.Serialize(date)));
        Assert.NotNull(problem);
        Assert.Contains(field, problem.Keys);
    }

    public static TheoryData<string, string> OutOfRange => new()
    {
        { "measures.holdSeconds", "1e300" }, { "measures.queueWaitSeconds", "-0.5" }, { "measures.handleSeconds", "604801" },
        { "measures.transfers", "-1" }, { "measures.transfers", "2147483647" }, { "survey.cesScore", "-2147483648" },
        { "topic", "\"a\\u0000b\"" }, { "contactId", "\"a\\u0000b\"" }, { "identifiers.handle", "\"x\\u0000\"" },
        { "topic", "\"line\\nbreak\"" }, { "topic", "\"\\ud800\"" }, { "identifiers.email", "\"a\\udc00@example.com\"" },
        { "occurredAt", "\"2026-11-22T11:00:00\\ud800Z\"" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void A_well_typed_value_out_of_range_is_named(string field, string raw)
    {
        var element = With(field, raw);
        var problem = Problem(element);
        Assert.NotNull(problem);
        Assert.Contains(field, problem.Keys);
    }

    [Fact]
    public void Every_wrong_field_is_named_at_once_not_just_the_first()
    {
        var element = JsonDocument.Parse("""
            {"source":1,"sourceEventId":"e","contactId":"c","channel":"voice","kind":"ended","occurredAt":"0001-01-01T00:00:00+01:00",
             "identifiers":{"phone":"+442079460958"},"measures":{"holdSeconds":"NaN","transfers":1e30,"abandoned":"no"}}
            """).RootElement;
        var problem = Problem(element)!;
        Assert.Equal(["measures.abandoned", "measures.holdSeconds", "measures.transfers", "occurredAt", "source"], problem.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Fields_are_matched_case_insensitively_and_named_canonically()
    {
        var problem = Problem(With("Measures", """{"HoldSeconds":"NaN"}"""))!;
        Assert.Contains("measures.holdSeconds", problem.Keys);
    }

    [Fact]
    public void Nulls_count_as_absent_and_a_well_formed_event_with_every_field_is_accepted()
    {
        var element = JsonDocument.Parse("""
            {"source":"corpus","sourceEventId":"e-1","contactId":"c-1","channel":"voice","kind":"ended","direction":null,
             "occurredAt":"2026-11-22T11:00:00Z","startedAt":"2026-11-22T10:50:00+01:00","endedAt":"2026-11-22T10:00:00.1234567Z",
             "identifiers":{"phone":"+44 20 7946 0958","email":null},"topic":"billing","initialContactId":"c-0","previousContactId":"c-0",
             "measures":{"queueWaitSeconds":0,"holdSeconds":12.5,"handleSeconds":1e2,"transfers":0,"abandoned":false,"resolved":true},"survey":null}
            """).RootElement;
        var (e, problem) = ContactEventEndpoints.Parse(element, "t", Now);
        Assert.Null(problem);
        Assert.Equal(12.5, e!.Measures!.HoldSeconds);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 9, 50, 0, TimeSpan.Zero), e.StartedAt);
    }

    [Theory]
    [InlineData("""{"source":"x","measures":{"holdSeconds":NaN}}""", "measures.holdSeconds")]
    [InlineData("""{"source":"x","measures":{"queueWaitSeconds":-Infinity}}""", "measures.queueWaitSeconds")]
    [InlineData("""{"occurredAt":"2026-11-22T11:00:00Z","Measures":{"HoldSeconds":Infinity}}""", "measures.holdSeconds")]
    [InlineData("""{"events":[{"source":"x"},{"measures":{"holdSeconds":NaN}}]}""", "events[1].measures.holdSeconds")]
    [InlineData("""{"events":[{"source":"x"},{"source":"y"},NaN]}""", "events[2]")]
    [InlineData("""{"source":'x'}""", "source")]
    [InlineData("""{"source":"x",}""", null)]
    [InlineData("""{"source":"corpus","channel":""", null)]
    [InlineData("""NaN""", null)]
    public void A_body_that_is_not_JSON_is_located_at_the_field_it_broke_in(string body, string? field) =>
        Assert.Equal(field, ContactEventShape.PathOfSyntaxError(Encoding.UTF8.GetBytes(body)));
}
