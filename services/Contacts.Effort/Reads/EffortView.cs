using System.ComponentModel;
using Contacts.Contracts;
using Contacts.Effort.Journeys;

namespace Contacts.Effort.Reads;

public sealed record CustomerEffortView(
    Guid CustomerId,
    int Score,
    int PredictedScore,
    [property: Description("Version of the customer's effort state, as EffortScored carries it.")] long Version,
    DateTimeOffset AsOf,
    Guid? WorstJourneyId,
    IReadOnlyList<EffortDriver> Drivers,
    IReadOnlyList<JourneyView> OpenJourneys,
    [property: Description("Closed journeys kept in the snapshot (at most 5).")] IReadOnlyList<JourneyView> RecentJourneys,
    IReadOnlyList<CesAnswerView> CesAnswers);

public sealed record JourneyView(
    Guid Id,
    string? Topic,
    string Status,
    DateTimeOffset OpenedAt,
    DateTimeOffset LastContactAt,
    int Score,
    [property: Description("From the drivers alone, without the CES answer.")] int PredictedScore,
    int? CesScore,
    IReadOnlyList<string> Channels,
    int Transfers,
    double HoldSeconds,
    double QueueWaitSeconds,
    IReadOnlyList<EffortDriver> Drivers,
    IReadOnlyList<ContactView> Contacts);

public sealed record ContactView(
    [property: Description("source:contactId (a transfer chain's initial contact)")] string Id,
    string Source,
    IReadOnlyList<string> ContactIds,
    string Channel,
    string Direction,
    string? Topic,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    int Transfers,
    double HoldSeconds,
    double QueueWaitSeconds,
    bool Abandoned,
    bool Resolved,
    int? CesScore,
    IReadOnlyList<Guid> ContactEventIds,
    [property: Description("Only a survey answer arrived under this id: it carries a CES answer, it is not another contact.")] bool SurveyOnly,
    [property: Description("What the contact was about, as the platform or agent wrote it (the latest reported). Customer content.")] string? Summary,
    [property: Description("resolved, unresolved, callback_promised, escalated or follow_up_sent (the latest reported).")] string? Outcome,
    [property: Description("Promises made on this contact and where each stands.")] IReadOnlyList<PromiseView> Promises);

/// <summary>A promise made on a contact, judged as of the view's asOf.</summary>
public sealed record PromiseView(
    [property: Description("callback or follow_up.")] string Kind,
    DateTimeOffset DueAt,
    [property: Description("When the event that made it occurred.")] DateTimeOffset MadeAt,
    [property: Description("open (not due yet), kept (an outbound contact by dueAt), kept_late (one after dueAt) or overdue (due, none yet).")] string Status,
    [property: Description("True while the customer is still waiting on it (open or overdue).")] bool Open,
    [property: Description("The outbound contact that kept it (source:contactId).")] string? KeptBy,
    DateTimeOffset? KeptAt);

/// <summary>A CES answer beside the score effort predicted for the same journey without it.</summary>
public sealed record CesAnswerView(Guid JourneyId, string ContactId, int CesScore, DateTimeOffset? AnsweredAt, int PredictedScore);

public static class EffortViews
{
    public static CustomerEffortView Of(Guid customerId, long version, CustomerEvaluation evaluation)
    {
        var worst = evaluation.Worst;
        var promises = PromisesOf(evaluation);
        var journeys = evaluation.Journeys.OrderByDescending(j => j.Journey.LastAt).Select(j => Journey(j, promises)).ToList();
        return new CustomerEffortView(customerId, evaluation.Score, worst?.Score.Predicted ?? 0, version, evaluation.AsOf, worst?.Journey.Id,
            worst?.Score.Drivers ?? [],
            [.. journeys.Where(j => j.Status == "open")],
            [.. journeys.Where(j => j.Status != "open")],
            [
                .. evaluation.Journeys.SelectMany(j => j.Journey.Contacts.Where(c => c.CesScore is not null)
                    .Select(c => new CesAnswerView(j.Journey.Id, c.Key, c.CesScore!.Value, c.CesAnsweredAt, j.Score.Predicted))),
            ]);
    }

    /// <summary>Every promise of the evaluation judged at its asOf, by the contact that made it (kept by any of the customer's contacts).</summary>
    public static ILookup<string, PromiseView> PromisesOf(CustomerEvaluation evaluation) =>
        PromiseJudge.Judge(evaluation.Journeys.SelectMany(j => j.Journey.Contacts), evaluation.AsOf).ToLookup(p => p.Promise.ContactKey,
            p => new PromiseView(p.Promise.Kind, p.Promise.DueAt, p.Promise.MadeAt, p.Status, p.IsOpen, p.KeptBy, p.KeptAt));

    public static JourneyView Journey(ScoredJourney scored, ILookup<string, PromiseView> promises)
    {
        var j = scored.Journey;
        var interactions = j.Interactions.ToList();
        return new JourneyView(j.Id, j.Topic, scored.Status, j.OpenedAt, j.LastAt, scored.Score.Score, scored.Score.Predicted, scored.Score.CesScore,
            j.Channels, interactions.Sum(c => c.Transfers), interactions.Sum(c => c.HoldSeconds), interactions.Sum(c => c.QueueWaitSeconds),
            scored.Score.Drivers,
            [
                .. j.Contacts.Select(c => new ContactView(c.Key, c.Source, c.Legs, c.Channel, c.Direction, c.Topic, c.StartedAt, c.EndedAt,
                    c.Transfers, c.HoldSeconds, c.QueueWaitSeconds, c.Abandoned, c.Resolved, c.CesScore, [.. c.Events.Select(e => e.EventId)],
                    c.IsSurveyOnly, c.Summary, c.Outcome, [.. promises[c.Key]])),
            ]);
    }
}
