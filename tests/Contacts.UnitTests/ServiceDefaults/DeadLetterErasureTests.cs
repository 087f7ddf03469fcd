using System.Text;
using System.Text.Json;
using Contacts.Messaging;

namespace Contacts.UnitTests;

/// <summary>What an erasure does to a dead letter: the erased person's messages and batch items go, everyone else's stay.</summary>
public sealed class DeadLetterErasureTests
{
    private static readonly Guid Erased = Guid.Parse("11111111-2222-4333-8444-555555555555");
    private static readonly Guid ErasedContact = Guid.Parse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    private static readonly ErasureTraces Traces = ErasureTraces.Of("acme", [Erased, ErasedContact], ["dana@erase.example", "+14155550177"]);

    private static object Received(string tenant, Guid id, string email) => new
    {
        id, tenantId = tenant, channel = "chat", identifiers = new[] { new { type = "email", value = email } },
    };

    private static object Scored(string tenant, Guid customer) => new { id = Guid.NewGuid(), tenantId = tenant, customerId = customer, contactEventIds = new[] { Guid.NewGuid() } };

    private static byte[] Envelope(object message) =>
        Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { messageId = Guid.NewGuid(), messageType = new[] { "urn:message:Contacts.Contracts:X" }, message }));

    private static byte[] Batch(params object[] messages) =>
        Envelope(new { id = Guid.NewGuid(), items = messages.Select(m => new { messageId = Guid.NewGuid(), sentAt = DateTimeOffset.UnixEpoch, message = m }) });

    [Fact]
    public void Given_a_message_naming_the_erased_customer_when_judged_then_it_is_dropped() =>
        Assert.IsType<DeadLetterFate.Drop>(DeadLetterErasure.Judge(Envelope(Scored("acme", Erased)), Traces));

    [Fact]
    public void Given_an_unattributed_event_carrying_an_identifier_they_alone_held_when_judged_then_it_is_dropped_whatever_its_case_and_named()
    {
        var id = Guid.NewGuid();
        Assert.Equal([id], Assert.IsType<DeadLetterFate.Drop>(DeadLetterErasure.Judge(Envelope(Received("acme", id, "DANA@erase.example")), Traces)).Messages);
    }

    [Fact]
    public void Given_the_same_identifier_in_another_tenant_when_judged_then_it_is_kept() =>
        Assert.IsType<DeadLetterFate.Keep>(DeadLetterErasure.Judge(Envelope(Received("other", Guid.NewGuid(), "dana@erase.example")), Traces));

    [Fact]
    public void Given_someone_elses_message_when_judged_then_it_is_kept() =>
        Assert.IsType<DeadLetterFate.Keep>(DeadLetterErasure.Judge(Envelope(Scored("acme", Guid.NewGuid())), Traces));

    [Fact]
    public void Given_a_batch_of_only_their_items_when_judged_then_it_is_dropped() =>
        Assert.IsType<DeadLetterFate.Drop>(DeadLetterErasure.Judge(Batch(Scored("acme", Erased), Received("acme", ErasedContact, "x@y.example")), Traces));

    [Fact]
    public void Given_a_batch_with_other_peoples_items_when_judged_then_only_their_items_are_stripped_and_the_rest_keep_their_order()
    {
        var others = new[] { Guid.NewGuid(), Guid.NewGuid() };
        var theirs = Guid.NewGuid();
        var fate = DeadLetterErasure.Judge(Batch(Scored("acme", others[0]), Received("acme", theirs, "dana@erase.example"), Scored("acme", others[1])), Traces);

        var strip = Assert.IsType<DeadLetterFate.Strip>(fate);
        Assert.Equal([theirs], strip.Messages);
        using var body = JsonDocument.Parse(strip.Body);
        var items = body.RootElement.GetProperty("message").GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("message").GetProperty("customerId").GetGuid()).ToList();
        Assert.Equal(others, items);
        Assert.DoesNotContain("dana@erase.example", Encoding.UTF8.GetString(strip.Body));
    }

    [Fact]
    public void Given_bytes_that_are_not_json_when_judged_then_their_raw_text_decides()
    {
        Assert.IsType<DeadLetterFate.Drop>(DeadLetterErasure.Judge(Encoding.UTF8.GetBytes("garbage dana@erase.example {"), Traces));
        Assert.IsType<DeadLetterFate.Keep>(DeadLetterErasure.Judge(Encoding.UTF8.GetBytes("garbage {"), Traces));
    }
}
