namespace Contacts.Ingestion.Events;

/// <summary>
/// The canonical contact event, version 1, as platforms POST it. The tenant is not in the body: it comes from the API key.
/// Every field is nullable here so that the validator, not the deserializer, names what is missing.
/// </summary>
public sealed record ContactEventV1
{
    /// <summary>The platform that sent it, such as "amazon-connect", "genesys-cloud", "twilio", "zendesk".</summary>
    public string? Source { get; init; }

    /// <summary>The platform's own id for this event; (source, sourceEventId) is unique per tenant.</summary>
    public string? SourceEventId { get; init; }

    /// <summary>The platform's id of the contact (call, conversation, ticket) this event belongs to.</summary>
    public string? ContactId { get; init; }

    public string? Channel { get; init; }

    public string? Direction { get; init; }

    public string? Kind { get; init; }

    public DateTimeOffset? OccurredAt { get; init; }

    public IdentifiersV1? Identifiers { get; init; }

    public string? Topic { get; init; }

    /// <summary>The first contact of a chain of transfers, and the one this contact was transferred from.</summary>
    public string? InitialContactId { get; init; }

    public string? PreviousContactId { get; init; }

    /// <summary>When the contact itself started and ended, where the platform knows (a call's connect and hang-up).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    public MeasuresV1? Measures { get; init; }

    /// <summary>A CES 2.0 answer ("The company made it easy for me to handle my issue", 1-7); only with kind survey_answered.</summary>
    public SurveyV1? Survey { get; init; }

    /// <summary>
    /// What the contact was about, as the platform or the agent wrote it (at most 2,000 characters). Customer content: shown
    /// in the customer's brief, never logged, traced or sent to subscribers, and erased with the customer.
    /// </summary>
    public string? Summary { get; init; }

    /// <summary>How the contact ended: resolved, unresolved, callback_promised, escalated or follow_up_sent.</summary>
    public string? Outcome { get; init; }

    /// <summary>What the customer was promised on this contact, such as a callback by a time.</summary>
    public PromiseV1? Promise { get; init; }
}

public sealed record PromiseV1
{
    /// <summary>callback (we call them back) or follow_up (we write back); kept by an outbound contact on any channel.</summary>
    public string? Kind { get; init; }

    /// <summary>By when it is due: not before occurredAt.</summary>
    public DateTimeOffset? DueAt { get; init; }
}

public sealed record MeasuresV1
{
    public double? QueueWaitSeconds { get; init; }
    public double? HoldSeconds { get; init; }
    public double? HandleSeconds { get; init; }
    public int? Transfers { get; init; }
    public bool? Abandoned { get; init; }
    public bool? Resolved { get; init; }
}

public sealed record SurveyV1
{
    public int? CesScore { get; init; }
}

public sealed record IdentifiersV1
{
    public string? Phone { get; init; }
    public string? Email { get; init; }
    public string? CrmId { get; init; }
    public string? AccountNumber { get; init; }
    public string? Handle { get; init; }
    public string? DeviceId { get; init; }
}
