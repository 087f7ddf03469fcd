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

public sealed class ContactEventMeasuresTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static ContactEventV1 Call() => new()
    {
        Source = "amazon-connect", SourceEventId = "e", ContactId = "c", Channel = "voice", Kind = "ended",
        OccurredAt = Now.AddMinutes(-1), Identifiers = new IdentifiersV1 { Phone = "+442079460958" },
    };

    [Fact]
    public void Transfers_times_measures_and_survey_are_carried_over()
    {
        var input = Call() with
        {
            InitialContactId = "c0", PreviousContactId = "c1", StartedAt = Now.AddMinutes(-10), EndedAt = Now.AddMinutes(-1),
            Measures = new MeasuresV1 { QueueWaitSeconds = 42, HoldSeconds = 60, HandleSeconds = 480, Transfers = 2, Abandoned = false, Resolved = true },
        };
        var e = ContactEventValidator.Validate(input, "t", Guid.NewGuid(), Now).Event!;
        Assert.Equal(("c0", "c1"), (e.InitialContactId, e.PreviousContactId));
        Assert.Equal(new Contacts.Contracts.ContactMeasures(42, 60, 480, 2, false, true), e.Measures);
        Assert.Equal(TimeSpan.FromMinutes(9), e.EndedAt - e.StartedAt);
    }

    [Fact]
    public void Impossible_times_and_negative_durations_are_named()
    {
        var input = Call() with
        {
            StartedAt = Now.AddMinutes(-1), EndedAt = Now.AddMinutes(-5),
            Measures = new MeasuresV1 { HoldSeconds = -3, Transfers = -1, QueueWaitSeconds = 30 * 86400 },
        };
        var errors = ContactEventValidator.Validate(input, "t", Guid.NewGuid(), Now).Errors;
        Assert.Equal(["endedAt", "measures.holdSeconds", "measures.queueWaitSeconds", "measures.transfers"], errors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("must not be before startedAt", Assert.Single(errors["endedAt"]));
        Assert.Equal("must not be negative", Assert.Single(errors["measures.holdSeconds"]));
    }

    [Theory]
    [InlineData("survey_answered", 5, null)]
    [InlineData("survey_answered", 0, "survey.cesScore")]
    [InlineData("survey_answered", null, "survey.cesScore")]
    [InlineData("ended", 5, "survey")]
    public void A_CES_answer_belongs_to_a_survey_event_and_is_1_to_7(string kind, int? score, string? failingField)
    {
        var input = Call() with { Kind = kind, Survey = score is null && failingField is not null ? null : new SurveyV1 { CesScore = score } };
        var result = ContactEventValidator.Validate(input, "t", Guid.NewGuid(), Now);
        if (failingField is null)
        {
            Assert.Equal(score, result.Event!.CesScore);
        }
        else
        {
            Assert.Contains(failingField, result.Errors.Keys);
        }
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void A_measure_that_is_not_a_finite_number_is_refused(double seconds)
    {
        // Platform adapters build events without JSON in between, so the rule holds here too, not only in the JSON shape.
        var result = ContactEventValidator.Validate(Call() with { Measures = new MeasuresV1 { HoldSeconds = seconds, QueueWaitSeconds = seconds } },
            "t", Guid.NewGuid(), Now);
        Assert.Contains("finite", Assert.Single(result.Errors["measures.holdSeconds"]));
        Assert.Contains("measures.queueWaitSeconds", result.Errors.Keys);
    }

    [Fact]
    public void Start_and_end_times_from_before_2000_are_refused_like_occurredAt()
    {
        var result = ContactEventValidator.Validate(Call() with { StartedAt = DateTimeOffset.MinValue, EndedAt = new DateTimeOffset(1999, 12, 31, 0, 0, 0, TimeSpan.Zero) },
            "t", Guid.NewGuid(), Now);
        Assert.Contains("before 2000", Assert.Single(result.Errors["startedAt"]));
        Assert.Contains(result.Errors["endedAt"], rule => rule.Contains("before 2000", StringComparison.Ordinal));
    }
}

/// <summary>What was said and promised: summary, outcome and promise, and the rules that keep them consistent.</summary>
public sealed class ContactEventStoryTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static ContactEventV1 Call() => new()
    {
        Source = "pbx",
        SourceEventId = "evt-1",
        ContactId = "call-1",
        Channel = "voice",
        Kind = "ended",
        OccurredAt = Now.AddMinutes(-10),
        Identifiers = new IdentifiersV1 { Phone = "+44 20 7946 0958" },
    };

    private static ContactEventValidator.Result Validate(ContactEventV1 input) => ContactEventValidator.Validate(input, "t", Guid.NewGuid(), Now);

    [Fact]
    public void Given_a_summary_an_outcome_and_a_promise_when_validated_then_the_event_carries_them_normalised()
    {
        var due = new DateTimeOffset(2026, 11, 22, 17, 0, 0, TimeSpan.FromHours(1));
        var result = Validate(Call() with
        {
            Summary = "  Card charged twice for the October invoice.\nAsked for a refund.  ",
            Outcome = "Callback-Promised",
            Promise = new PromiseV1 { Kind = "callback", DueAt = due },
        });

        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => $"{e.Key}: {string.Join(",", e.Value)}")));
        var e = result.Event!;
        Assert.Equal("Card charged twice for the October invoice.\nAsked for a refund.", e.Summary);
        Assert.Equal("callback_promised", e.Outcome);
        Assert.Equal(new Contacts.Contracts.ContactPromise("callback", due.ToUniversalTime()), e.Promise);
        Assert.Equal(TimeSpan.Zero, e.Promise!.DueAt.Offset);
        Assert.Null(e.Measures);
    }

    [Theory]
    [InlineData("resolved", true)]
    [InlineData("unresolved", false)]
    public void Given_outcome_resolved_or_unresolved_when_validated_then_measures_resolved_follows(string outcome, bool resolved)
    {
        var withoutMeasures = Validate(Call() with { Outcome = outcome }).Event!;
        Assert.Equal(resolved, withoutMeasures.Measures!.Resolved);

        var withMeasures = Validate(Call() with { Outcome = outcome, Measures = new MeasuresV1 { HoldSeconds = 30 } }).Event!;
        Assert.Equal((resolved, 30.0), (withMeasures.Measures!.Resolved, withMeasures.Measures.HoldSeconds));
    }

    [Theory]
    [InlineData("resolved", false)]
    [InlineData("unresolved", true)]
    public void Given_an_outcome_that_contradicts_measures_resolved_when_validated_then_both_fields_are_named(string outcome, bool resolved)
    {
        var result = Validate(Call() with { Outcome = outcome, Measures = new MeasuresV1 { Resolved = resolved } });

        Assert.Equal(["measures.resolved", "outcome"], result.Errors.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("must agree", Assert.Single(result.Errors["outcome"]));
        Assert.Null(result.Event);
    }

    [Fact]
    public void Given_an_outcome_that_agrees_with_measures_resolved_when_validated_then_it_is_accepted()
    {
        Assert.True(Validate(Call() with { Outcome = "resolved", Measures = new MeasuresV1 { Resolved = true } }).IsValid);
        Assert.True(Validate(Call() with { Outcome = "escalated", Measures = new MeasuresV1 { Resolved = false } }).IsValid);
    }

    [Fact]
    public void Given_a_summary_over_2000_characters_when_validated_then_summary_is_named_with_its_length()
    {
        Assert.True(Validate(Call() with { Summary = new string('a', 2_000) }).IsValid);

        var result = Validate(Call() with { Summary = new string('a', 2_001) });

        Assert.Equal("must be at most 2,000 characters; got 2,001", Assert.Single(result.Errors["summary"]));
    }

    [Fact]
    public void Given_a_summary_with_a_control_character_other_than_a_line_break_when_validated_then_it_is_refused()
    {
        Assert.True(Validate(Call() with { Summary = "line one\r\n\tline two" }).IsValid);
        Assert.Contains("control characters", Assert.Single(Validate(Call() with { Summary = "bell\u0007" }).Errors["summary"]));
    }

    [Fact]
    public void Given_an_unknown_outcome_when_validated_then_the_allowed_ones_are_named()
    {
        var result = Validate(Call() with { Outcome = "sorted" });
        Assert.Equal("must be one of resolved, unresolved, callback_promised, escalated, follow_up_sent; got \"sorted\"", Assert.Single(result.Errors["outcome"]));
    }

    [Fact]
    public void Given_a_promise_without_dueAt_or_kind_when_validated_then_each_is_named()
    {
        var result = Validate(Call() with { Outcome = "callback_promised", Promise = new PromiseV1() });

        Assert.Equal(["promise.dueAt", "promise.kind"], result.Errors.Keys.Order(StringComparer.Ordinal));
        Assert.StartsWith("is required", Assert.Single(result.Errors["promise.dueAt"]));
    }

    [Fact]
    public void Given_a_promise_due_before_the_contact_or_months_after_it_when_validated_then_dueAt_is_named()
    {
        var early = Validate(Call() with { Promise = new PromiseV1 { Kind = "callback", DueAt = Now.AddMinutes(-11) } });
        Assert.Contains("must not be before occurredAt", Assert.Single(early.Errors["promise.dueAt"]));

        var late = Validate(Call() with { Promise = new PromiseV1 { Kind = "callback", DueAt = Now.AddDays(91) } });
        Assert.Contains("within 90 days", Assert.Single(late.Errors["promise.dueAt"]));

        Assert.True(Validate(Call() with { Promise = new PromiseV1 { Kind = "follow_up", DueAt = Now.AddMinutes(-10) } }).IsValid);
    }
}
