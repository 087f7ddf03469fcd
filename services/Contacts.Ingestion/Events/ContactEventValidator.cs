using System.Text.RegularExpressions;
using Contacts.Contracts;
using Contacts.Identifiers;

namespace Contacts.Ingestion.Events;

/// <summary>Checks a v1 event against every rule and normalises it; errors are keyed by the JSON path of the field.</summary>
public static partial class ContactEventValidator
{
    public static readonly IReadOnlyList<string> Channels = ["voice", "email", "chat", "sms", "social", "web_form", "voicemail", "ivr"];
    public static readonly IReadOnlyList<string> Directions = ["inbound", "outbound"];
    public static readonly IReadOnlyList<string> Kinds = ["started", "transferred", "ended", "message", "survey_answered"];
    public static readonly IReadOnlyList<string> Outcomes = ["resolved", "unresolved", "callback_promised", "escalated", "follow_up_sent"];
    public static readonly IReadOnlyList<string> PromiseKinds = ["callback", "follow_up"];

    /// <summary>The longest summary kept: a few paragraphs, what an agent reads before answering.</summary>
    public const int SummaryLength = 2_000;

    /// <summary>How far after its contact a promise may fall due (a later date is a unit or typing error).</summary>
    public static readonly TimeSpan LongestPromise = TimeSpan.FromDays(90);

    /// <summary>How far ahead of our clock an event may claim to have happened (platform clocks drift).</summary>
    public static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);

    public sealed record Result(ContactEventReceived? Event, Dictionary<string, string[]> Errors)
    {
        public bool IsValid => Errors.Count == 0;
    }

    public static Result Validate(ContactEventV1 input, string tenantId, Guid eventId, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>();
        void Fail(string field, string rule) =>
            errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, rule] : [rule];

        var source = input.Source?.Trim();
        if (string.IsNullOrEmpty(source))
        {
            Fail("source", "is required: the platform that sent the event, such as \"genesys-cloud\"");
        }
        else if (!SourcePattern().IsMatch(source))
        {
            Fail("source", "must be 1 to 64 lower-case letters, digits, '.', '_' or '-'");
        }

        var sourceEventId = input.SourceEventId?.Trim();
        RequireText("sourceEventId", sourceEventId, "the platform's own id for this event", Fail);
        var contactId = input.ContactId?.Trim();
        RequireText("contactId", contactId, "the platform's id of the contact this event belongs to", Fail);

        var channel = OneOf("channel", input.Channel, Channels, required: true, Fail);
        var direction = OneOf("direction", input.Direction, Directions, required: false, Fail) ?? "inbound";
        var kind = OneOf("kind", input.Kind, Kinds, required: true, Fail);

        if (input.OccurredAt is not { } occurredAt)
        {
            Fail("occurredAt", "is required: when it happened, as an ISO 8601 date-time with offset, such as 2026-11-20T10:15:00Z");
        }
        else if (occurredAt > now + FutureTolerance)
        {
            Fail("occurredAt", $"must not be more than {FutureTolerance.TotalMinutes:0} minutes in the future");
        }
        else if (occurredAt < Earliest)
        {
            Fail("occurredAt", "must not be before 2000-01-01");
        }

        var identifiers = NormalizeIdentifiers(input.Identifiers, Fail);
        OptionalText("initialContactId", input.InitialContactId, Fail);
        OptionalText("previousContactId", input.PreviousContactId, Fail);
        CheckTimes(input, now, Fail);
        CheckMeasures(input.Measures, Fail);
        CheckSurvey(input, kind, Fail);

        var topic = input.Topic?.Trim();
        if (topic is { Length: > 100 } || topic?.Any(char.IsControl) == true)
        {
            Fail("topic", "must be at most 100 characters with no control characters");
        }

        var summary = CheckSummary(input.Summary, Fail);
        var outcome = OneOf("outcome", input.Outcome, Outcomes, required: false, Fail);
        var resolved = Resolution(outcome, input.Measures?.Resolved, Fail);
        var promise = CheckPromise(input.Promise, input.OccurredAt, Fail);

        if (errors.Count > 0)
        {
            return new Result(null, errors);
        }
        var m = input.Measures;
        return new Result(new ContactEventReceived(eventId, tenantId, source!, sourceEventId!, contactId!, channel!, direction,
            kind!, input.OccurredAt!.Value.ToUniversalTime(), now, identifiers, string.IsNullOrEmpty(topic) ? null : topic,
            Blank(input.InitialContactId), Blank(input.PreviousContactId), input.StartedAt?.ToUniversalTime(), input.EndedAt?.ToUniversalTime(),
            m is null && resolved is null ? null : new ContactMeasures(m?.QueueWaitSeconds, m?.HoldSeconds, m?.HandleSeconds, m?.Transfers, m?.Abandoned, resolved),
            input.Survey?.CesScore, summary, outcome, promise), errors);
    }

    /// <summary>No contact centre platform reports contacts from before this; an earlier date is a default or a unit error.</summary>
    public static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The longest a single measured duration may be: a week (a longer one is a unit or clock error).</summary>
    public static readonly TimeSpan LongestDuration = TimeSpan.FromDays(7);

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static void OptionalText(string field, string? value, Action<string, string> fail)
    {
        if (value is not null && (value.Trim().Length > 200 || value.Any(char.IsControl)))
        {
            fail(field, "must be at most 200 characters with no control characters");
        }
    }

    private static void CheckTimes(ContactEventV1 input, DateTimeOffset now, Action<string, string> fail)
    {
        foreach (var (field, value) in new[] { ("startedAt", input.StartedAt), ("endedAt", input.EndedAt) })
        {
            if (value > now + FutureTolerance)
            {
                fail(field, $"must not be more than {FutureTolerance.TotalMinutes:0} minutes in the future");
            }
            else if (value < Earliest)
            {
                fail(field, "must not be before 2000-01-01");
            }
        }
        if (input.StartedAt is { } started && input.EndedAt is { } ended && ended < started)
        {
            fail("endedAt", "must not be before startedAt");
        }
        if (input.StartedAt is { } s && input.EndedAt is { } e && e - s > LongestDuration)
        {
            fail("endedAt", $"must be within {LongestDuration.TotalDays:0} days of startedAt");
        }
    }

    private static void CheckMeasures(MeasuresV1? measures, Action<string, string> fail)
    {
        if (measures is null)
        {
            return;
        }
        foreach (var (field, seconds) in new[]
                 {
                     ("measures.queueWaitSeconds", measures.QueueWaitSeconds), ("measures.holdSeconds", measures.HoldSeconds),
                     ("measures.handleSeconds", measures.HandleSeconds),
                 })
        {
            if (seconds is { } value && !double.IsFinite(value))
            {
                fail(field, "must be a finite number of seconds, not NaN or Infinity");
            }
            else if (seconds is < 0)
            {
                fail(field, "must not be negative");
            }
            else if (seconds > LongestDuration.TotalSeconds)
            {
                fail(field, $"must be at most {LongestDuration.TotalSeconds:0} seconds ({LongestDuration.TotalDays:0} days)");
            }
        }
        if (measures.Transfers is < 0 or > 100)
        {
            fail("measures.transfers", "must be between 0 and 100");
        }
    }

    /// <summary>The summary trimmed (null when blank): line breaks and tabs are kept, other control characters refused.</summary>
    private static string? CheckSummary(string? summary, Action<string, string> fail)
    {
        var text = summary?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (text.Length > SummaryLength)
        {
            fail("summary", $"must be at most {SummaryLength:N0} characters; got {text.Length:N0}");
        }
        if (text.Any(c => char.IsControl(c) && c is not '\n' and not '\r' and not '\t'))
        {
            fail("summary", "must not contain control characters other than line breaks and tabs");
        }
        return text;
    }

    /// <summary>
    /// measures.resolved as the outcome implies it: resolved and unresolved set it, and one that contradicts it is refused
    /// naming both fields (the platform must say which is true).
    /// </summary>
    private static bool? Resolution(string? outcome, bool? measured, Action<string, string> fail)
    {
        bool? implied = outcome switch { "resolved" => true, "unresolved" => false, _ => null };
        if (implied is not null && measured is not null && implied != measured)
        {
            var said = measured.Value ? "true" : "false";
            fail("outcome", $"is {outcome} but measures.resolved is {said}: they must agree (or give only one of them)");
            fail("measures.resolved", $"is {said} but outcome is {outcome}: they must agree (or give only one of them)");
        }
        return measured ?? implied;
    }

    private static ContactPromise? CheckPromise(PromiseV1? promise, DateTimeOffset? occurredAt, Action<string, string> fail)
    {
        if (promise is null)
        {
            return null;
        }
        var kind = OneOf("promise.kind", promise.Kind, PromiseKinds, required: true, fail);
        if (promise.DueAt is not { } due)
        {
            fail("promise.dueAt", "is required: when the promise falls due, as an ISO 8601 date-time with offset, such as 2026-11-20T16:00:00Z");
            return null;
        }
        if (occurredAt is { } at && due < at)
        {
            fail("promise.dueAt", "must not be before occurredAt: a promise falls due after the contact that made it");
        }
        else if (occurredAt is { } from && due - from > LongestPromise)
        {
            fail("promise.dueAt", $"must be within {LongestPromise.TotalDays:0} days of occurredAt");
        }
        return kind is null ? null : new ContactPromise(kind, due.ToUniversalTime());
    }

    private static void CheckSurvey(ContactEventV1 input, string? kind, Action<string, string> fail)
    {
        if (kind == "survey_answered" && input.Survey?.CesScore is null)
        {
            fail("survey.cesScore", "is required when kind is survey_answered: the CES answer, 1 (very hard) to 7 (very easy)");
        }
        else if (input.Survey is not null && kind is not null && kind != "survey_answered")
        {
            fail("survey", "is only allowed when kind is survey_answered");
        }
        if (input.Survey?.CesScore is < 1 or > 7)
        {
            fail("survey.cesScore", "must be between 1 (very hard) and 7 (very easy)");
        }
    }

    private static List<ContactIdentifier> NormalizeIdentifiers(IdentifiersV1? input, Action<string, string> fail)
    {
        var result = new List<ContactIdentifier>();
        if (input is null)
        {
            fail("identifiers", "is required: at least one of phone, email, crmId, accountNumber, handle, deviceId");
            return result;
        }
        (string Type, string Field, string? Raw)[] all =
        [
            (IdentifierTypes.Phone, "phone", input.Phone),
            (IdentifierTypes.Email, "email", input.Email),
            (IdentifierTypes.CrmId, "crmId", input.CrmId),
            (IdentifierTypes.AccountNumber, "accountNumber", input.AccountNumber),
            (IdentifierTypes.Handle, "handle", input.Handle),
            (IdentifierTypes.DeviceId, "deviceId", input.DeviceId),
        ];
        foreach (var (type, field, raw) in all.Where(i => i.Raw is not null))
        {
            var (value, error) = IdentifierNormalizer.Normalize(type, raw!);
            if (error is not null)
            {
                fail($"identifiers.{field}", error);
            }
            else
            {
                result.Add(new ContactIdentifier(type, value!));
            }
        }
        if (all.All(i => i.Raw is null))
        {
            fail("identifiers", "must hold at least one of phone, email, crmId, accountNumber, handle, deviceId");
        }
        return result;
    }

    private static void RequireText(string field, string? value, string what, Action<string, string> fail)
    {
        if (string.IsNullOrEmpty(value))
        {
            fail(field, $"is required: {what}");
        }
        else if (value.Length > 200 || value.Any(char.IsControl))
        {
            fail(field, "must be at most 200 characters with no control characters");
        }
    }

    private static string? OneOf(string field, string? value, IReadOnlyList<string> allowed, bool required, Action<string, string> fail)
    {
        var normalized = value?.Trim().ToLowerInvariant().Replace('-', '_');
        if (string.IsNullOrEmpty(normalized))
        {
            if (required)
            {
                fail(field, $"is required: one of {string.Join(", ", allowed)}");
            }
            return null;
        }
        if (!allowed.Contains(normalized))
        {
            fail(field, $"must be one of {string.Join(", ", allowed)}; got \"{value}\"");
            return null;
        }
        return normalized;
    }

    [GeneratedRegex("^[a-z0-9._-]{1,64}$")]
    private static partial Regex SourcePattern();
}
