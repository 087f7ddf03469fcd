using System.Text;
using System.Text.Json;
using Contacts.Alerting.DeadLetters;

namespace Contacts.UnitTests;

/// <summary>Reading a dead letter for an operator: what and whose it is and why it failed, never an identifier's value.</summary>
public sealed class DeadLetterTests
{
    private static readonly Guid BatchId = Guid.Parse("6f1c2d4e-8a9b-4c1d-9e2f-3a4b5c6d7e8f");
    private static readonly Guid ItemId = Guid.Parse("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9");

    private static byte[] Batch(string tenant, string email, string phone) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
    {
        messageId = BatchId,
        messageType = new[] { "urn:message:Contacts.Contracts:ContactEventReceivedBatch" },
        message = new
        {
            id = BatchId,
            items = new[]
            {
                new
                {
                    messageId = ItemId, sentAt = DateTimeOffset.UnixEpoch,
                    message = new
                    {
                        id = ItemId, tenantId = tenant, channel = "chat",
                        identifiers = new[] { new { type = "email", value = email }, new { type = "phone", value = phone } },
                    },
                },
            },
        },
    }));

    private static Dictionary<string, object?> Fault(string message) => new()
    {
        ["MT-Fault-Message"] = Encoding.UTF8.GetBytes(message),
        ["MT-Fault-ExceptionType"] = Encoding.UTF8.GetBytes("Contacts.Messaging.InvalidMessageException"),
        ["MT-Fault-Timestamp"] = Encoding.UTF8.GetBytes("2026-12-05T10:11:12.0000000Z"),
        ["MT-Reason"] = Encoding.UTF8.GetBytes("fault"),
    };

    [Fact]
    public void Given_a_batch_of_one_in_an_error_queue_when_described_then_it_names_its_id_type_tenant_item_reason_and_when()
    {
        var letter = DeadLetters.Describe(BatchId.ToString(), Fault("ContactEventReceived x lacks a channel"), Batch("acme", "ana@example.com", "+15551234567"), null);

        Assert.Equal(BatchId.ToString(), letter.MessageId);
        Assert.Equal("ContactEventReceivedBatch", letter.Type);
        Assert.Equal("acme", letter.Tenant);
        Assert.Equal([ItemId.ToString()], letter.Items);
        Assert.Equal([ItemId.ToString()], letter.ContactEventIds);
        Assert.Equal("ContactEventReceived x lacks a channel", letter.Reason);
        Assert.Equal("Contacts.Messaging.InvalidMessageException", letter.ExceptionType);
        Assert.Equal(new DateTimeOffset(2026, 12, 5, 10, 11, 12, TimeSpan.Zero), letter.FirstSeen);
    }

    [Fact]
    public void Given_a_reason_that_quotes_the_customers_identifiers_when_described_then_no_value_is_left_in_it()
    {
        var letter = DeadLetters.Describe(null, Fault("duplicate key (value)=(ana@example.com) and (+15551234567) for account AC-99-Z"),
            Batch("acme", "ana@example.com", "+15551234567"), null);

        Assert.DoesNotContain("ana@example.com", letter.Reason);
        Assert.DoesNotContain("5551234567", letter.Reason);
        Assert.Equal("duplicate key (value)=([redacted]) and ([redacted]) for account AC-99-Z", letter.Reason);
    }

    [Theory]
    [InlineData("mail bob.smith@example.org failed", "mail [redacted] failed")]
    [InlineData("number +44 20 7946 0958 refused", "number [redacted] refused")]
    [InlineData("account 12345678 unknown", "account [redacted] unknown")]
    [InlineData("contact 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 at 2026-12-05T10:11:12Z lacks a channel",
        "contact 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 at 2026-12-05T10:11:12Z lacks a channel")]
    public void Given_text_shaped_like_an_email_or_phone_number_when_redacted_then_only_that_is_taken_out(string text, string expected) =>
        Assert.Equal(expected, DeadLetters.Redact(text, []));

    [Fact]
    public void Given_a_type_name_among_the_identifiers_when_redacted_then_the_word_stays()
    {
        var letter = DeadLetters.Describe(null, Fault("the email identifier was refused"), Batch("acme", "ana@example.com", "+15551234567"), null);
        Assert.Equal("the email identifier was refused", letter.Reason);
    }

    [Fact]
    public void Given_bytes_that_are_not_a_message_when_described_then_the_headers_tell_what_they_can()
    {
        var headers = Fault("'t' is an invalid start of a value");
        headers["MT-Fault-MessageType"] = Encoding.UTF8.GetBytes("urn:message:Contacts.Contracts:ContactEventReceived");
        var published = new DateTimeOffset(2026, 12, 5, 9, 0, 0, TimeSpan.Zero);
        headers.Remove("MT-Fault-Timestamp");

        var letter = DeadLetters.Describe("m-1", headers, "this is not a message {"u8, published);

        Assert.Equal("m-1", letter.MessageId);
        Assert.Equal("ContactEventReceived", letter.Type);
        Assert.Null(letter.Tenant);
        Assert.Empty(letter.Items);
        Assert.Equal(published, letter.FirstSeen);
    }

    [Fact]
    public void Given_a_later_stage_message_when_described_then_its_contact_event_ids_are_named_and_not_its_own_ids()
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            messageId = "m",
            messageType = new[] { "urn:message:Contacts.Contracts:ContactAttributedBatch" },
            message = new { id = "m", items = new[] { new { messageId = "i", message = new { id = "x", tenantId = "t", contactEventId = "c-1" } } } },
        });
        var letter = DeadLetters.Describe(null, null, body, null);
        Assert.Equal(["c-1"], letter.ContactEventIds);
        Assert.Equal(["i"], letter.Items);
    }

    [Fact]
    public void Given_a_message_of_two_tenants_when_described_then_it_names_no_tenant()
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new { messageId = "m", message = new { items = new[] { new { message = new { tenantId = "a" } }, new { message = new { tenantId = "b" } } } } });
        Assert.Null(DeadLetters.Describe(null, null, body, null).Tenant);
    }

    [Fact]
    public void Given_no_fault_headers_when_described_then_the_reason_says_none_was_recorded() =>
        Assert.StartsWith("no reason recorded", DeadLetters.Describe(null, null, Batch("acme", "a@b.co", "+15550000000"), null).Reason);

    [Theory]
    [InlineData("identity-contact-events", "identity-contact-events")]
    [InlineData("identity-contact-events_error", "identity-contact-events")]
    [InlineData("identity-contact-events_error_error", null)]
    [InlineData("contacts.subscription.abc", null)]
    [InlineData("", null)]
    public void Given_a_queue_named_either_way_when_resolved_then_only_a_pipeline_queue_is(string name, string? expected) =>
        Assert.Equal(expected, DeadLetters.Resolve(name, DeadLetterBroker.Queues));

    [Theory]
    [InlineData("MT-Fault-Message", true)]
    [InlineData("MT-Fault-StackTrace", true)]
    [InlineData("MT-Host-MachineName", true)]
    [InlineData("MT-Reason", true)]
    [InlineData("MT-Activity-Id", false)]
    [InlineData("traceparent", false)]
    public void Given_a_header_when_retrying_then_only_the_failures_own_are_dropped(string name, bool dropped) =>
        Assert.Equal(dropped, DeadLetters.IsFaultHeader(name));

    [Theory]
    [InlineData("", null)]
    [InlineData("  ", null)]
    [InlineData("{}", null)]
    [InlineData("""{"messageIds": null}""", null)]
    [InlineData("""{"messageIds": ["a", "B"]}""", "a,b")]
    public void Given_a_valid_retry_body_when_parsed_then_it_names_all_or_the_chosen(string body, string? chosen)
    {
        var (only, errors) = DeadLetters.ParseRetry(body);
        Assert.Null(errors);
        Assert.Equal(chosen, only is null ? null : string.Join(",", only.Select(id => id.ToLowerInvariant()).Order()));
    }

    [Theory]
    [InlineData("not json", "body")]
    [InlineData("[1]", "body")]
    [InlineData("""{"messageIds": []}""", "messageIds")]
    [InlineData("""{"messageIds": "a"}""", "messageIds")]
    [InlineData("""{"messageIds": [1]}""", "messageIds")]
    [InlineData("""{"messageIds": [" "]}""", "messageIds")]
    [InlineData("""{"messageIds": ["a"], "messageIds": ["b"]}""", "body")]
    [InlineData("""{"ids": ["a"]}""", "ids")]
    public void Given_a_bad_retry_body_when_parsed_then_the_error_names_the_field(string body, string field)
    {
        var (only, errors) = DeadLetters.ParseRetry(body);
        Assert.Null(only);
        Assert.NotNull(errors);
        Assert.Equal(field, Assert.Single(errors).Key);
    }
}
