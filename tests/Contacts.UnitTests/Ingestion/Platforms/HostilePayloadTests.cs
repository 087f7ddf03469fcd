using System.Text;
using Contacts.Ingestion.Platforms;

namespace Contacts.UnitTests.Ingestion.Platforms;

/// <summary>
/// Payloads a signature or an API key lets through but that cannot be read one way: every one is refused naming the field
/// (PlatformFormatException becomes a 400), never an exception of another kind (a 500).
/// </summary>
public sealed class HostilePayloadTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 18, 0, 0, TimeSpan.Zero);

    private static string Fixture(string name) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Ingestion", "Platforms", "Fixtures", name));

    private static PlatformRequest Json(string body, Dictionary<string, string>? headers = null) =>
        new(new Uri("https://contacts.example.com/v1/webhooks/x"), new Dictionary<string, string>(headers ?? [], StringComparer.OrdinalIgnoreCase),
            Encoding.UTF8.GetBytes(body), "application/json", Now);

    private static PlatformFormatException Refused(IPlatformAdapter adapter, PlatformRequest request) =>
        Assert.Throws<PlatformFormatException>(() => adapter.Map(request));

    public static TheoryData<string, string, string, string, string> Cases() => new()
    {
        // adapter, fixture, text to replace, replacement, field named
        { "amazon-connect", "amazon-connect-disconnected.json", "\"contactId\"", "\"\\ud800\": 1, \"contactId\"", "detail.\\ud800" },
        { "amazon-connect", "amazon-connect-disconnected.json", "\"+12065550100\"", "\"+1206555\\ud8000100\"", "detail.customerEndpoint.address" },
        { "amazon-connect", "amazon-connect-disconnected.json", "\"2026-11-20T17:43:48Z\"", "\"0001-01-01T00:00:00+01:00\"", "time" },
        { "amazon-connect", "amazon-connect-disconnected.json", "\"2026-11-20T17:29:04.000Z\"", "\"0001-01-01T00:00:00+01:00\"", "detail.queueInfo.enqueueTimestamp" },
        { "amazon-connect", "amazon-connect-disconnected.json", "\"2026-11-20T17:17:53.000Z\"", "\"not a time\"", "detail.initiationTimestamp" },
        { "amazon-connect", "amazon-connect-disconnected.json", "\"channel\": \"VOICE\",", "\"channel\": \"VOICE\", \"channel\": \"CHAT\",", "detail.channel" },
        { "genesys-cloud", "genesys-cloud-customer-start.json", "\"ani\": \"tel:+13175550100\"", "\"ani\": \"tel:+1317\\udc00\"", "detail.eventBody.ani" },
        { "genesys-cloud", "genesys-cloud-customer-start.json", "\"mediaType\"", "\"\\ud800\": 1, \"mediaType\"", "detail.eventBody.\\ud800" },
        { "genesys-cloud", "genesys-cloud-customer-start.json", "1795170927567", "9223372036854775807", "eventBody.eventTime" },
        { "genesys-cloud", "genesys-cloud-customer-start.json", "1795170927567", "-9223372036854775808", "eventBody.eventTime" },
        { "genesys-cloud", "genesys-cloud-customer-start.json", "\"conversationId\"", "\"conversationId\": \"a\", \"conversationId\"", "detail.eventBody.conversationId" },
        { "zendesk", "zendesk-ticket-created.json", "\"subject\": \"Charged twice\"", "\"subject\": \"Charged \\ud800twice\"", "detail.subject" },
        { "zendesk", "zendesk-ticket-created.json", "\"priority\"", "\"\\udfff\": 1, \"priority\"", "detail.\\udfff" },
        { "zendesk", "zendesk-ticket-created.json", "\"2026-11-20T10:12:07.672717030Z\"", "\"0001-01-01T00:00:00+01:00\"", "time" },
        { "zendesk", "zendesk-ticket-created.json", "\"id\": \"5158\",", "\"id\": \"5158\", \"id\": \"5159\",", "detail.id" },
        { "webhook", "webhook-canonical.json", "\"channel\": \"chat\",", "\"channel\": \"fax\", \"Channel\": \"chat\",", "Channel" },
        { "webhook", "webhook-canonical.json", "\"topic\"", "\"\\ud800\": 1, \"topic\"", "\\ud800" },
        { "webhook", "webhook-canonical.json", "\"2026-11-20T10:20:00Z\"", "\"0001-01-01T00:00:00+01:00\"", "occurredAt" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Given_a_payload_that_cannot_be_read_one_way_when_mapped_then_it_is_refused_naming_the_field(
        string platform, string fixture, string find, string replace, string field)
    {
        var original = Fixture(fixture);
        Assert.Contains(find, original, StringComparison.Ordinal);
        var refused = Refused(PlatformAdapters.Find(platform)!, Json(original.Replace(find, replace, StringComparison.Ordinal)));
        Assert.Equal(field, refused.Field);
    }

    [Theory]
    [InlineData("Timestamp=0001-01-01T00%3A00%3A00%2B01%3A00")]
    [InlineData("Timestamp=not+a+time")]
    public void Given_a_twilio_timestamp_that_is_no_time_when_mapped_then_it_is_refused_naming_it(string timestamp)
    {
        var form = Fixture("twilio-call-completed.form").Trim();
        var body = System.Text.RegularExpressions.Regex.Replace(form, "Timestamp=[^&]*", timestamp);
        var request = new PlatformRequest(new Uri("https://x/"), new Dictionary<string, string>(), Encoding.UTF8.GetBytes(body),
            "application/x-www-form-urlencoded", Now);
        Assert.Equal("Timestamp", Refused(new TwilioAdapter(), request).Field);
    }

    [Fact]
    public void Given_a_repeated_twilio_form_parameter_when_verified_and_mapped_then_it_stays_legal()
    {
        var body = Fixture("twilio-call-completed.form").Trim() + "&StirVerstat=A&StirVerstat=B";
        var url = "https://contacts.example.com/v1/webhooks/twilio";
        var pairs = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(body)
            .SelectMany(p => p.Value.Select(v => KeyValuePair.Create(p.Key, v ?? "")));
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            [TwilioAdapter.SignatureHeader] = TwilioAdapter.Sign("token", url, pairs),
        };
        var request = new PlatformRequest(new Uri(url), headers, Encoding.UTF8.GetBytes(body), "application/x-www-form-urlencoded", Now);
        Assert.Null(new TwilioAdapter().Verify(request, "token"));
        Assert.Single(new TwilioAdapter().Map(request).Events);
    }

    [Theory]
    [InlineData("99999999999999", "in the future")]
    [InlineData("9223372036854775807", "in the future")]
    [InlineData("-99999999999999", "is required and must be a unix time in seconds")]
    [InlineData("0", "older than")]
    public void Given_a_webhook_timestamp_out_of_any_calendar_when_verified_then_it_is_refused_saying_why(string timestamp, string why)
    {
        const string Secret = "whsec_Y29ycHVzLXNlY3JldA==";
        var body = Encoding.UTF8.GetBytes(Fixture("webhook-canonical.json"));
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["webhook-id"] = "msg_1",
            ["webhook-timestamp"] = timestamp,
            ["webhook-signature"] = "v1,AAAA",
        };
        var refusal = new StandardWebhookAdapter().Verify(new PlatformRequest(new Uri("https://x/"), headers, body, "application/json", Now), Secret);
        Assert.NotNull(refusal);
        Assert.StartsWith("webhook-timestamp: ", refusal, StringComparison.Ordinal);
        Assert.Contains(why, refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("amazon-connect", "amazon-connect-disconnected.json", "\"connectedToAgentTimestamp\"", "\"agentInitiatedHoldDuration\": \"long\", \"connectedToAgentTimestamp\"")]
    [InlineData("genesys-cloud", "genesys-cloud-customer-start.json", "\"mediaType\"", "\"heldDurationMs\": \"x\", \"connectedDurationMs\": [], \"mediaType\"")]
    public void Given_an_optional_duration_of_the_wrong_type_when_mapped_then_it_is_left_out_without_an_exception(string platform, string fixture, string find,
        string replace)
    {
        // Genesys reports durations on an agent's part (user.end), so the start event is turned into one.
        var original = Fixture(fixture).Replace("customer.start", "user.end", StringComparison.Ordinal);
        Assert.Contains(find, original, StringComparison.Ordinal);
        var mapped = PlatformAdapters.Find(platform)!.Map(Json(original.Replace(find, replace, StringComparison.Ordinal)));
        Assert.Null(Assert.Single(mapped.Events).Measures?.HoldSeconds);
    }

    [Fact]
    public void Given_a_genesys_event_time_that_is_a_string_when_mapped_then_it_is_refused_naming_it()
    {
        var body = Fixture("genesys-cloud-customer-start.json").Replace("1795170927567", "\"INBOUND\"", StringComparison.Ordinal);
        Assert.Equal("eventBody.eventTime", Refused(new GenesysCloudAdapter(), Json(body)).Field);
    }
}
