using Contacts.Ingestion.Events;

namespace Contacts.UnitTests;

public sealed class ContactEventValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static ContactEventV1 Valid() => new()
    {
        Source = "genesys-cloud",
        SourceEventId = "evt-1",
        ContactId = "conv-1",
        Channel = "Voice",
        Kind = "started",
        OccurredAt = Now.AddMinutes(-3),
        Identifiers = new IdentifiersV1 { Phone = "+44 20 7946 0958", Email = " Ana@Example.com" },
        Topic = "billing",
    };

    [Fact]
    public void A_valid_event_is_normalised()
    {
        var id = Guid.NewGuid();
        var result = ContactEventValidator.Validate(Valid(), "tenant-a", id, Now);

        Assert.True(result.IsValid);
        var e = result.Event!;
        Assert.Equal((id, "tenant-a", "voice", "inbound", "started"), (e.Id, e.TenantId, e.Channel, e.Direction, e.Kind));
        Assert.Contains(e.Identifiers, i => i is { Type: "phone", Value: "+442079460958" });
        Assert.Contains(e.Identifiers, i => i is { Type: "email", Value: "ana@example.com" });
        Assert.Equal(Now, e.ReceivedAt);
    }

    [Fact]
    public void Every_missing_field_is_named()
    {
        var result = ContactEventValidator.Validate(new ContactEventV1(), "t", Guid.NewGuid(), Now);

        Assert.False(result.IsValid);
        Assert.Equal(["channel", "contactId", "identifiers", "kind", "occurredAt", "source", "sourceEventId"],
            result.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_unknown_channel_names_the_allowed_ones()
    {
        var result = ContactEventValidator.Validate(Valid() with { Channel = "pigeon" }, "t", Guid.NewGuid(), Now);
        Assert.Contains("must be one of voice, email, chat", Assert.Single(result.Errors["channel"]));
    }

    [Fact]
    public void Events_from_the_far_future_are_refused_but_clock_drift_is_tolerated()
    {
        Assert.True(ContactEventValidator.Validate(Valid() with { OccurredAt = Now.AddMinutes(4) }, "t", Guid.NewGuid(), Now).IsValid);
        var result = ContactEventValidator.Validate(Valid() with { OccurredAt = Now.AddHours(1) }, "t", Guid.NewGuid(), Now);
        Assert.Contains("future", Assert.Single(result.Errors["occurredAt"]));
    }

    [Fact]
    public void Identifiers_that_cannot_be_normalised_are_named_by_path()
    {
        var input = Valid() with { Identifiers = new IdentifiersV1 { Phone = "call me", Email = "nobody" } };
        var result = ContactEventValidator.Validate(input, "t", Guid.NewGuid(), Now);
        Assert.Equal(["identifiers.email", "identifiers.phone"], result.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_empty_identifier_object_is_refused()
    {
        var result = ContactEventValidator.Validate(Valid() with { Identifiers = new IdentifiersV1() }, "t", Guid.NewGuid(), Now);
        Assert.Contains("at least one", Assert.Single(result.Errors["identifiers"]));
    }

    [Fact]
    public void Source_must_be_a_slug()
    {
        var result = ContactEventValidator.Validate(Valid() with { Source = "Amazon Connect!" }, "t", Guid.NewGuid(), Now);
        Assert.True(result.Errors.ContainsKey("source"));
    }
}
