using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Contacts.Ingestion.Platforms;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>Platform webhooks through the gateway as the platforms send them: Twilio with Basic auth, Amazon Connect chains.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class PlatformEndToEndTests(ServersFixture servers) : IAsyncLifetime
{
    private const string TwilioToken = "platforms-e2e-twilio-auth-token";
    private TestPipeline _pipeline = null!;

    public async Task InitializeAsync() =>
        _pipeline = await TestPipeline.Create(await servers.Isolate("platforms"), environment: new Dictionary<string, string?>
        {
            [$"Ingestion__Platforms__{TestPipeline.TenantA}__twilio__Secret"] = TwilioToken,
        });

    public async Task DisposeAsync() => await _pipeline.DisposeAsync();

    [Fact]
    public async Task A_Twilio_callback_to_a_Basic_auth_url_signed_as_Twilio_signs_it_is_accepted()
    {
        // The user gives Twilio https://any:KEY@host/v1/webhooks/twilio; Twilio signs that URL, credentials included, and
        // calls the host with the credentials in an Authorization: Basic header.
        var gateway = _pipeline.Pipeline.GatewayAddress;
        var configured = $"{gateway.Scheme}://any:{_pipeline.KeyA}@{gateway.Authority}/v1/webhooks/twilio";
        var callSid = $"CA{Guid.NewGuid():N}";
        var form = new Dictionary<string, string>
        {
            ["AccountSid"] = "AC00000000000000000000000000000000", ["CallSid"] = callSid, ["CallStatus"] = "completed",
            ["CallDuration"] = "42", ["Direction"] = "inbound", ["From"] = "+14158675309", ["To"] = "+18005551212", ["SequenceNumber"] = "3",
        };

        using var http = new HttpClient();
        using var accepted = await http.SendAsync(TwilioCallback(gateway, form, TwilioAdapter.Sign(TwilioToken, configured, form)));
        var body = await accepted.Content.ReadAsStringAsync();
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, body);
        Assert.Equal(1, await _pipeline.Count("select count(*) from ingestion.received_events where source_event_id like @sid", ("sid", callSid + "%")));

        // Signed over the URL without the credentials is not what Twilio signs: refused, as Twilio's own validators would.
        var bare = $"{gateway.Scheme}://{gateway.Authority}/v1/webhooks/twilio";
        using var refused = await http.SendAsync(TwilioCallback(gateway, form, TwilioAdapter.Sign(TwilioToken, bare, form)));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private HttpRequestMessage TwilioCallback(Uri gateway, Dictionary<string, string> form, string signature)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway, "v1/webhooks/twilio")) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"any:{_pipeline.KeyA}")));
        request.Headers.Add(TwilioAdapter.SignatureHeader, signature);
        return request;
    }

    [Fact]
    public async Task An_Amazon_Connect_chain_whose_phone_arrives_on_one_event_ends_up_on_the_customer_known_by_that_phone()
    {
        var phone = $"+1206555{Random.Shared.Next(1000, 9999)}";
        using var http = _pipeline.Client();
        // The customer is known by phone from another channel.
        var (known, _) = await TestPipeline.Push(http, new
        {
            source = "web", sourceEventId = $"form-{Guid.NewGuid():N}", contactId = $"form-{Guid.NewGuid():N}", channel = "web_form", kind = "message",
            occurredAt = DateTimeOffset.UtcNow.AddMinutes(-10), identifiers = new { phone },
        });
        // A Connect call: queued without the phone, transferred without it, and only its disconnect carries it.
        var first = Guid.NewGuid().ToString();
        var second = Guid.NewGuid().ToString();
        var queued = await Connect(http, "QUEUED", first, null, null, DateTimeOffset.UtcNow.AddMinutes(-5));
        var transferred = await Connect(http, "INITIATED", second, first, null, DateTimeOffset.UtcNow.AddMinutes(-4), "TRANSFER");
        var disconnected = await Connect(http, "DISCONNECTED", second, first, phone, DateTimeOffset.UtcNow.AddMinutes(-1), "TRANSFER");

        // Found by the phone only the last Connect event carried, the customer holds all four contacts and nothing else, in
        // the order they happened, each as it was sent: the chain's events without the phone joined through its handle.
        Guid[] ids = [known, queued, transferred, disconnected];
        var customer = await TestPipeline.Customer(http, $"?phone={Uri.EscapeDataString(phone)}",
            c => c.GetProperty("timeline").GetArrayLength() >= ids.Length, TimeSpan.FromSeconds(60));
        var timeline = customer.GetProperty("timeline").EnumerateArray().Select(t => (
            Id: t.GetProperty("contactEventId").GetGuid(), Source: t.GetProperty("source").GetString(), ContactId: t.GetProperty("contactId").GetString(),
            Channel: t.GetProperty("channel").GetString(), Kind: t.GetProperty("kind").GetString())).ToList();
        Assert.Equal(ids, timeline.Select(t => t.Id));
        Assert.Equal(
            [("web", "web_form", "message"), ("amazon-connect", "voice", "started"), ("amazon-connect", "voice", "transferred"), ("amazon-connect", "voice", "ended")],
            timeline.Select(t => (t.Source, t.Channel, t.Kind)));
        Assert.Equal([first, second, second], timeline.Skip(1).Select(t => t.ContactId));
        Assert.Equal(0, customer.GetProperty("ambiguousContacts").GetArrayLength());
        Assert.Contains(customer.GetProperty("identifiers").EnumerateArray(),
            i => i.GetProperty("type").GetString() == "phone" && i.GetProperty("value").GetString() == phone);
    }

    private static async Task<Guid> Connect(HttpClient http, string eventType, string contactId, string? initialContactId, string? phone,
        DateTimeOffset at, string method = "INBOUND")
    {
        var detail = new Dictionary<string, object?>
        {
            ["eventType"] = eventType, ["contactId"] = contactId, ["initialContactId"] = initialContactId, ["previousContactId"] = initialContactId,
            ["channel"] = "VOICE", ["initiationMethod"] = method, ["initiationTimestamp"] = at.AddMinutes(-1).ToString("O"),
            ["queueInfo"] = new { queueType = "STANDARD", enqueueTimestamp = at.AddSeconds(-30).ToString("O") },
        };
        if (phone is not null)
        {
            detail["customerEndpoint"] = new { address = phone, type = "TELEPHONE_NUMBER" };
            detail["disconnectTimestamp"] = at.ToString("O");
        }
        var payload = new Dictionary<string, object?>
        {
            ["version"] = "0", ["id"] = Guid.NewGuid().ToString(), ["detail-type"] = "Amazon Connect Contact Event", ["source"] = "aws.connect",
            ["time"] = at.ToString("O"), ["detail"] = detail,
        };
        using var response = await http.PostAsync("v1/webhooks/amazon-connect",
            new StringContent(JsonSerializer.Serialize(payload), Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("results")[0].GetProperty("id").GetGuid();
    }
}
