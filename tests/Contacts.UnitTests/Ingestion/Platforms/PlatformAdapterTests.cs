using System.Text;
using Contacts.Ingestion.Events;
using Contacts.Ingestion.Platforms;

namespace Contacts.UnitTests.Ingestion.Platforms;

public sealed class PlatformAdapterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 18, 0, 0, TimeSpan.Zero);

    private static PlatformRequest Request(string fixture, string contentType = "application/json", Dictionary<string, string>? headers = null,
        string url = "https://contacts.example.com/v1/webhooks/x", DateTimeOffset? now = null) =>
        new(new Uri(url), new Dictionary<string, string>(headers ?? [], StringComparer.OrdinalIgnoreCase),
            File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ingestion", "Platforms", "Fixtures", fixture)), contentType, now ?? Now);

    private static ContactEventV1 Single(IPlatformAdapter adapter, PlatformRequest request)
    {
        var mapping = adapter.Map(request);
        Assert.Null(mapping.Ignored);
        var e = Assert.Single(mapping.Events);
        var validation = ContactEventValidator.Validate(e, "t", Guid.NewGuid(), request.ReceivedAt);
        Assert.True(validation.IsValid, string.Join("; ", validation.Errors.Select(kv => $"{kv.Key}: {string.Join(", ", kv.Value)}")));
        return e;
    }

    [Fact]
    public void Amazon_connect_disconnected_transfer_becomes_an_ended_voice_contact_with_its_chain_and_queue_wait()
    {
        var e = Single(new AmazonConnectAdapter(), Request("amazon-connect-disconnected.json"));
        Assert.Equal(("amazon-connect", "6f3a12b4-3c1e-8d7f-0a2b-5e6c7d8e9f01", "bbbbbbbb-cccc-dddd-eeee-222222222222"), (e.Source, e.SourceEventId, e.ContactId));
        Assert.Equal(("voice", "inbound", "ended"), (e.Channel, e.Direction, e.Kind));
        Assert.Equal("aaaaaaaa-cccc-dddd-eeee-111111111111", e.InitialContactId);
        Assert.Equal("+12065550100", e.Identifiers!.Phone);
        Assert.Equal(60, e.Measures!.QueueWaitSeconds);
        Assert.False(e.Measures.Abandoned);
        Assert.Equal(TimeSpan.FromSeconds(1555), e.EndedAt - e.StartedAt);
    }

    [Fact]
    public void Amazon_connect_events_of_other_types_are_ignored()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":"x","detail-type":"Amazon Connect Contact Event","time":"2026-11-20T17:00:00Z","detail":{"eventType":"CONTACT_DATA_UPDATED","contactId":"c"}}""");
        var mapping = new AmazonConnectAdapter().Map(new PlatformRequest(new Uri("https://x/"), new Dictionary<string, string>(), body, "application/json", Now));
        Assert.Empty(mapping.Events);
        Assert.Contains("CONTACT_DATA_UPDATED", mapping.Ignored);
    }

    [Fact]
    public void Genesys_customer_start_becomes_a_started_voice_contact_from_the_ani()
    {
        var e = Single(new GenesysCloudAdapter(), Request("genesys-cloud-customer-start.json"));
        Assert.Equal(("genesys-cloud", "0e9e1f6c-2d1b-4a5e-9a56-7b0f1e2d3c4b", "2d6a4f4b-1c2e-4c3d-9e8f-0a1b2c3d4e5f"), (e.Source, e.SourceEventId, e.ContactId));
        Assert.Equal(("voice", "inbound", "started"), (e.Channel, e.Direction, e.Kind));
        Assert.Equal("+13175550100", e.Identifiers!.Phone);
        Assert.Equal("9f8e7d6c-5b4a-3c2d-1e0f-a1b2c3d4e5f6", e.Identifiers.CrmId);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1795170927567), e.OccurredAt);
    }

    [Fact]
    public void Genesys_topics_we_do_not_track_are_ignored()
    {
        var body = Encoding.UTF8.GetBytes("""{"topicName":"v2.detail.events.conversation.c.acd.start","eventBody":{"conversationId":"c","eventTime":1}}""");
        Assert.Contains("acd.start", new GenesysCloudAdapter().Map(new PlatformRequest(new Uri("https://x/"), new Dictionary<string, string>(), body, "application/json", Now)).Ignored);
    }

    private const string TwilioUrl = "https://contacts.example.com/v1/webhooks/twilio";
    private const string TwilioToken = "12345-auth-token";

    private static PlatformRequest Twilio(string fixture, string? signature = null)
    {
        var unsigned = Request(fixture, "application/x-www-form-urlencoded", url: TwilioUrl);
        var form = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(unsigned.Text).ToDictionary(p => p.Key, p => p.Value.ToString());
        return Request(fixture, "application/x-www-form-urlencoded",
            new() { [TwilioAdapter.SignatureHeader] = signature ?? TwilioAdapter.Sign(TwilioToken, TwilioUrl, form) }, TwilioUrl);
    }

    [Fact]
    public void Twilio_signs_the_url_and_the_sorted_parameters_with_hmac_sha1()
    {
        // Written out by hand: URL, then each parameter name and value, sorted by name.
        var data = "https://example.com/hook?x=1" + "CallSid" + "CA1" + "From" + "+14155550100" + "To" + "+14155550199";
        var expected = Convert.ToBase64String(System.Security.Cryptography.HMACSHA1.HashData(Encoding.UTF8.GetBytes("tok"), Encoding.UTF8.GetBytes(data)));
        Assert.Equal(expected, TwilioAdapter.Sign("tok", "https://example.com/hook?x=1",
            new Dictionary<string, string> { ["To"] = "+14155550199", ["CallSid"] = "CA1", ["From"] = "+14155550100" }));
    }

    [Fact]
    public void Twilio_completed_call_becomes_an_ended_voice_contact_with_its_duration()
    {
        var adapter = new TwilioAdapter();
        var request = Twilio("twilio-call-completed.form");
        Assert.Null(adapter.Verify(request, TwilioToken));
        var e = Single(adapter, request);
        Assert.Equal(("voice", "inbound", "ended", "CA11111111111111111111111111111111"), (e.Channel, e.Direction, e.Kind, e.ContactId));
        Assert.Equal("+14155550100", e.Identifiers!.Phone);
        Assert.Equal(128, e.Measures!.HandleSeconds);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 10, 15, 0, TimeSpan.Zero), e.OccurredAt);
    }

    [Fact]
    public void Twilio_whatsapp_message_is_a_social_message_from_the_sender()
    {
        var e = Single(new TwilioAdapter(), Twilio("twilio-whatsapp-message.form"));
        Assert.Equal(("social", "message", "+447700900123"), (e.Channel, e.Kind, e.Identifiers!.Phone));
    }

    [Fact]
    public void Twilio_refuses_a_wrong_or_missing_signature_and_another_url()
    {
        var adapter = new TwilioAdapter();
        Assert.Contains("does not match", adapter.Verify(Twilio("twilio-call-completed.form", "bm90IHRoZSBzaWduYXR1cmU="), TwilioToken));
        Assert.Contains("does not match", adapter.Verify(Twilio("twilio-call-completed.form"), "another-token"));
        var moved = Twilio("twilio-call-completed.form") with { Url = new Uri("https://evil.example.com/v1/webhooks/twilio") };
        Assert.Contains("does not match", adapter.Verify(moved, TwilioToken));
        Assert.Contains("is required", adapter.Verify(Request("twilio-call-completed.form", "application/x-www-form-urlencoded"), TwilioToken));
    }

    private const string ZendeskSecret = "dGhpc19pc19hX3plbmRlc2tfc2VjcmV0";

    private static PlatformRequest Zendesk(DateTimeOffset signedAt, string? signature = null)
    {
        var timestamp = signedAt.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var body = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ingestion", "Platforms", "Fixtures", "zendesk-ticket-created.json"));
        return Request("zendesk-ticket-created.json", headers: new()
        {
            [ZendeskAdapter.TimestampHeader] = timestamp,
            [ZendeskAdapter.SignatureHeader] = signature ?? ZendeskAdapter.Sign(ZendeskSecret, timestamp, body),
        });
    }

    [Fact]
    public void Zendesk_ticket_created_from_a_web_form_becomes_a_started_contact_of_its_requester()
    {
        var adapter = new ZendeskAdapter();
        var request = Zendesk(Now.AddMinutes(-1));
        Assert.Null(adapter.Verify(request, ZendeskSecret));
        var e = Single(adapter, request);
        Assert.Equal(("zendesk", "cbe4028c-7239-495d-b020-f22348516046", "ticket-5158"), (e.Source, e.SourceEventId, e.ContactId));
        Assert.Equal(("web_form", "started", "Charged twice"), (e.Channel, e.Kind, e.Topic));
        Assert.Equal("zendesk-user:8447388090494", e.Identifiers!.CrmId);
    }

    [Fact]
    public void A_zendesk_ticket_event_without_a_requester_still_maps_and_status_case_does_not_matter()
    {
        // The minimal shape of the documented event schema: no requester, mixed-case status, "web" channel.
        var body = Encoding.UTF8.GetBytes("""
            {"type":"zen:event-type:ticket.status_changed","account_id":88888888,"id":"01HN-EXAMPLE","time":"2026-11-20T17:18:10Z",
             "zendesk_event_version":"2022-11-06","subject":"zen:ticket:35436",
             "detail":{"id":"35436","status":"Solved","via":{"channel":"web"},"created_at":"2026-11-20T17:00:00Z","updated_at":"2026-11-20T17:18:10Z"},
             "event":{"current":"SOLVED","previous":"OPEN"}}
            """);
        var e = Single(new ZendeskAdapter(), new PlatformRequest(new Uri("https://x/"), new Dictionary<string, string>(), body, "application/json", Now));
        Assert.Equal(("ended", "web_form", "zendesk-ticket:35436", true), (e.Kind, e.Channel, e.Identifiers!.Handle, e.Measures!.Resolved));
    }

    [Fact]
    public void A_vendor_summary_is_cut_to_the_canonical_length_and_loses_control_characters_but_keeps_line_breaks()
    {
        Assert.Null(PlatformPayload.Summary(null));
        Assert.Null(PlatformPayload.Summary(" \u0007 \n "));
        Assert.Equal("Line one\nline\ttwo", PlatformPayload.Summary("  Line\u0000 one\nline\ttwo\u001b "));
        var exact = new string('a', ContactEventValidator.SummaryLength);
        Assert.Equal(exact, PlatformPayload.Summary(exact));
        var cut = PlatformPayload.Summary(new string('b', 5_000))!;
        Assert.Equal(ContactEventValidator.SummaryLength, cut.Length);
        Assert.EndsWith("b\u2026", cut, StringComparison.Ordinal);
        // An emoji (a surrogate pair) straddling the cut is dropped whole, never halved.
        var straddling = PlatformPayload.Summary(new string('c', ContactEventValidator.SummaryLength - 2) + "\U0001F525" + new string('d', 10))!;
        Assert.Equal(new string('c', ContactEventValidator.SummaryLength - 2) + "\u2026", straddling);
    }

    [Fact]
    public void A_zendesk_ticket_subject_longer_than_a_summary_still_maps_cut_and_a_solved_ticket_is_resolved_both_ways()
    {
        var subject = string.Concat(Enumerable.Repeat("The printer smokes again. ", 120));
        var body = Encoding.UTF8.GetBytes($$$"""
            {"type":"zen:event-type:ticket.status_changed","account_id":88888888,"id":"01HN-LONG","time":"2026-11-20T17:18:10Z",
             "detail":{"id":"35438","status":"SOLVED","subject":"{{{subject}}}","requester_id":"1","via":{"channel":"email"}},
             "event":{"current":"SOLVED","previous":"OPEN"}}
            """);
        var e = Single(new ZendeskAdapter(), new PlatformRequest(new Uri("https://x/"), new Dictionary<string, string>(), body, "application/json", Now));
        Assert.Equal(ContactEventValidator.SummaryLength, e.Summary!.Length);
        Assert.StartsWith("The printer smokes again.", e.Summary, StringComparison.Ordinal);
        Assert.Null(e.Topic);
        Assert.Equal(("resolved", true), (e.Outcome, e.Measures!.Resolved));
    }

    [Fact]
    public void Zendesk_refuses_a_wrong_signature_and_a_stale_or_future_timestamp()
    {
        var adapter = new ZendeskAdapter();
        Assert.Contains("does not match", adapter.Verify(Zendesk(Now, "bm90IGl0"), ZendeskSecret));
        Assert.Contains("older than 300 s", adapter.Verify(Zendesk(Now.AddMinutes(-6)), ZendeskSecret));
        Assert.Contains("in the future", adapter.Verify(Zendesk(Now.AddMinutes(6)), ZendeskSecret));
    }

    private const string WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    [Fact]
    public void Standard_webhooks_signatures_match_the_reference_vector()
    {
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Sign(WebhookSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", Encoding.UTF8.GetBytes("""{"test": 2432232314}""")));
    }

    private static PlatformRequest Webhook(DateTimeOffset signedAt, string? signature = null)
    {
        var timestamp = signedAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var body = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Ingestion", "Platforms", "Fixtures", "webhook-canonical.json"));
        return Request("webhook-canonical.json", headers: new()
        {
            ["webhook-id"] = "msg_1",
            ["webhook-timestamp"] = timestamp,
            ["webhook-signature"] = signature ?? "v1,b2xkIHNpZ25hdHVyZQ== " + Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Sign(WebhookSecret, "msg_1", timestamp, body),
        });
    }

    [Fact]
    public void A_signed_canonical_webhook_is_read_as_is_and_unknown_fields_are_ignored()
    {
        var adapter = new StandardWebhookAdapter();
        var request = Webhook(Now.AddSeconds(-30));
        Assert.Null(adapter.Verify(request, WebhookSecret));
        var e = Single(adapter, request);
        Assert.Equal(("acme-chat", "chat-9001", "chat", "Chat.Customer@example.com"), (e.Source, e.SourceEventId, e.Channel, e.Identifiers!.Email));
    }

    [Fact]
    public void A_canonical_webhook_with_a_wrong_signature_or_stale_timestamp_is_refused()
    {
        var adapter = new StandardWebhookAdapter();
        Assert.Contains("no v1 signature matches", adapter.Verify(Webhook(Now, "v1,bm9wZQ=="), WebhookSecret));
        Assert.Contains("older than", adapter.Verify(Webhook(Now.AddMinutes(-10)), WebhookSecret));
        Assert.Contains("in the future", adapter.Verify(Webhook(Now.AddMinutes(10)), WebhookSecret));
    }

    [Fact]
    public void A_body_that_is_not_json_names_the_body()
    {
        var request = new PlatformRequest(new Uri("https://x/"), new Dictionary<string, string>(), Encoding.UTF8.GetBytes("{nope"), "application/json", Now);
        foreach (var adapter in PlatformAdapters.All.Where(a => a.Name != "twilio"))
        {
            Assert.Equal("body", Assert.Throws<PlatformFormatException>(() => adapter.Map(request)).Field);
        }
        Assert.Equal("Content-Type", Assert.Throws<PlatformFormatException>(() => new TwilioAdapter().Map(request)).Field);
    }
}
