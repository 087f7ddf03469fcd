using System.ComponentModel;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Contracts;
using Contacts.Gateway.Proxy;
using Contacts.Identifiers;

namespace Contacts.Gateway.Context;

/// <summary>The customer's story for the agent who answers next (GET /v1/customers/{id}/brief).</summary>
public sealed record CustomerBrief(
    [property: Description("The customer now (the survivor when the id asked for was merged away).")] Guid CustomerId,
    [property: Description("The id asked for.")] Guid RequestedId,
    [property: Description("Customers merged into this one.")] IReadOnlyList<Guid> MergedFrom,
    [property: Description("Identifier types the customer has already given (phone, email, accountNumber): do not ask for them again. "
        + "Types only, never values.")] IReadOnlyList<string> DoNotAskAgain,
    [property: Description("Channels the customer has already tried on the journey told, in the order first tried.")] IReadOnlyList<string> ChannelsTried,
    [property: Description("The customer's effort score (their worst open journey's); 0 when nothing was scored yet.")] int Score,
    [property: Description("What drives that score, with evidence.")] IReadOnlyList<EffortDriver> Drivers,
    [property: Description("The open journey with the latest contact, told in order; null when no journey is open.")] BriefJourney? Journey,
    [property: Description("Promises the customer is still waiting on (open or overdue), on any open or recent journey.")] IReadOnlyList<BriefPromise> OpenPromises,
    [property: Description("Other open journeys, latest first.")] IReadOnlyList<BriefJourneyReference> OtherOpenJourneys,
    [property: Description("The customer's loyalty account (GET /v1/customers/{id}/ledger); null when nothing was scored yet or it could not be read.")]
    BriefLoyalty? Loyalty,
    [property: Description("The customer's latest moment of truth (misery, mediocre or magic) with its reasons.")] BriefMoment? LastMoment,
    [property: Description("The parts that could not be read (effort, ledger); the rest still answers.")] IReadOnlyList<string> Unavailable);

/// <summary>The loyalty account's balance (opens at 50, within 0-100) and whether it is below the tenant's floor.</summary>
public sealed record BriefLoyalty(int Balance, int Floor, bool Low);

/// <summary>A moment of truth: the contact, its kind and reasons, when it was lived.</summary>
public sealed record BriefMoment([property: Description("source:contactId")] string ContactId, string Kind, IReadOnlyList<string> Reasons, DateTimeOffset At);

/// <summary>A journey told contact by contact, in the order they happened.</summary>
public sealed record BriefJourney(
    Guid Id,
    string? Topic,
    DateTimeOffset OpenedAt,
    DateTimeOffset LastContactAt,
    [property: Description("This journey's effort score.")] int Score,
    IReadOnlyList<BriefContact> Contacts);

/// <summary>One contact of the story: where, when, what was said and what was promised.</summary>
public sealed record BriefContact(
    [property: Description("source:contactId")] string Id,
    string Channel,
    string Direction,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    [property: Description("What the contact was about, as the platform or agent wrote it.")] string? Summary,
    [property: Description("resolved, unresolved, callback_promised, escalated or follow_up_sent.")] string? Outcome,
    bool Resolved,
    IReadOnlyList<BriefPromise> Promises);

/// <summary>A promise and where it stands (open, kept, kept_late, overdue).</summary>
public sealed record BriefPromise(
    [property: Description("The contact that made it (source:contactId).")] string? ContactId,
    [property: Description("callback or follow_up.")] string Kind,
    DateTimeOffset DueAt,
    DateTimeOffset MadeAt,
    [property: Description("open (not due yet), kept (an outbound contact by dueAt), kept_late (one after dueAt) or overdue (due, none yet).")] string Status,
    [property: Description("True while the customer is still waiting on it.")] bool Open,
    [property: Description("The outbound contact that kept it.")] string? KeptBy,
    DateTimeOffset? KeptAt);

public sealed record BriefJourneyReference(Guid Id, string? Topic, DateTimeOffset LastContactAt, int Score, int Contacts);

/// <summary>
/// Composes the brief from identity (who the customer is, which identifier types they gave) and effort (their journeys,
/// contacts with summaries, outcomes and promises, score and drivers), read in parallel for the tenant of the key, as the
/// context is. A merged id answers for the survivor; a customer of another tenant, or erased, is 404.
/// </summary>
public sealed class CustomerBriefComposer(UpstreamReader upstream)
{
    /// <summary>The identifier types an agent would otherwise ask for; CRM ids, platform handles and device ids are not asked of a customer.</summary>
    public static readonly IReadOnlyList<string> AskableTypes = [IdentifierTypes.Phone, IdentifierTypes.Email, IdentifierTypes.AccountNumber];

    public async Task Compose(Guid id, HttpContext http)
    {
        var tenant = TenantAdmission.TenantOf(http) ?? throw new InvalidOperationException("the brief was asked for without an admitted tenant");
        // The ledger follows merges itself: read beside identity and effort, not after them.
        var ledger = upstream.Get(Upstreams.Effort, $"/v1/customers/{id}/ledger?limit=1", tenant, http.RequestAborted);
        if (await upstream.CustomerWithEffort(id, http, tenant, withAlerts: false) is not { } read)
        {
            return;
        }
        var (identity, customerId, effort, _) = read;
        await Results.Json(Build(id, customerId, identity, effort, await ledger), JsonSerializerOptions.Web, statusCode: StatusCodes.Status200OK)
            .ExecuteAsync(http);
    }

    // The parts of effort's answer the brief tells (names as effort writes them).
    private sealed record EffortRead(int Score, IReadOnlyList<EffortDriver>? Drivers, IReadOnlyList<JourneyRead>? OpenJourneys,
        IReadOnlyList<JourneyRead>? RecentJourneys);

    private sealed record JourneyRead(Guid Id, string? Topic, DateTimeOffset OpenedAt, DateTimeOffset LastContactAt, int Score,
        IReadOnlyList<string>? Channels, IReadOnlyList<ContactRead>? Contacts);

    private sealed record ContactRead(string Id, string Channel, string Direction, DateTimeOffset StartedAt, DateTimeOffset? EndedAt,
        bool Resolved, bool SurveyOnly, string? Summary, string? Outcome, IReadOnlyList<PromiseRead>? Promises);

    private sealed record PromiseRead(string Kind, DateTimeOffset DueAt, DateTimeOffset MadeAt, string Status, bool Open, string? KeptBy,
        DateTimeOffset? KeptAt);

    private sealed record LedgerRead(int Balance, int Floor, bool Low, BriefMoment? LastMoment);

    public static CustomerBrief Build(Guid requestedId, Guid customerId, JsonNode identity, UpstreamPart effort, UpstreamPart? ledger = null)
    {
        var account = ledger is { Ok: true } ? ledger.Body.Deserialize<LedgerRead>(JsonSerializerOptions.Web) : null;
        var loyalty = account is null ? null : new BriefLoyalty(account.Balance, account.Floor, account.Low);
        string[] ledgerUnavailable = ledger is null || ledger.Ok || ledger.Status == HttpStatusCode.NotFound ? [] : ["ledger"];
        var given = (identity["identifiers"] as JsonArray ?? []).Select(i => i?["type"]?.GetValue<string>()).ToHashSet();
        var doNotAsk = AskableTypes.Where(given.Contains).Select(t => IdentifierTypes.PublicNames[t]).ToList();
        var mergedFrom = identity["mergedFrom"]?.Deserialize<List<Guid>>() ?? [];
        // Effort 404: nothing scored yet, so no story and no effort; not a failure.
        if (!effort.Ok)
        {
            return new CustomerBrief(customerId, requestedId, mergedFrom, doNotAsk, [], 0, [], null, [], [], loyalty, account?.LastMoment,
                [.. effort.Status == HttpStatusCode.NotFound ? [] : new[] { "effort" }, .. ledgerUnavailable]);
        }
        var read = effort.Body.Deserialize<EffortRead>(JsonSerializerOptions.Web)!;
        var open = (read.OpenJourneys ?? []).OrderByDescending(j => j.LastContactAt).ToList();
        var told = open.FirstOrDefault();
        var promises = open.Concat(read.RecentJourneys ?? []).SelectMany(j => j.Contacts ?? [])
            .SelectMany(c => (c.Promises ?? []).Select(p => Promise(c.Id, p))).Where(p => p.Open).OrderBy(p => p.DueAt).ToList();
        return new CustomerBrief(customerId, requestedId, mergedFrom, doNotAsk, told?.Channels ?? [], read.Score, read.Drivers ?? [],
            told is null ? null : new BriefJourney(told.Id, told.Topic, told.OpenedAt, told.LastContactAt, told.Score,
            [
                .. (told.Contacts ?? []).Where(c => !c.SurveyOnly).OrderBy(c => c.StartedAt).Select(c => new BriefContact(c.Id, c.Channel,
                    c.Direction, c.StartedAt, c.EndedAt, c.Summary, c.Outcome, c.Resolved, [.. (c.Promises ?? []).Select(p => Promise(c.Id, p))])),
            ]),
            promises,
            [.. open.Skip(1).Select(j => new BriefJourneyReference(j.Id, j.Topic, j.LastContactAt, j.Score, j.Contacts?.Count ?? 0))],
            loyalty, account?.LastMoment, ledgerUnavailable);
    }

    private static BriefPromise Promise(string contactId, PromiseRead p) =>
        new(contactId, p.Kind, p.DueAt, p.MadeAt, p.Status, p.Open, p.KeptBy, p.KeptAt);
}
