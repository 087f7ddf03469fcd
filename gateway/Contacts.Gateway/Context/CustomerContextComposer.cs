using System.ComponentModel;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Contracts;
using Contacts.Gateway.Proxy;

namespace Contacts.Gateway.Context;

/// <summary>A customer's context as the gateway composes it (GET /v1/customers/{id}/context).</summary>
public sealed record CustomerContext(
    [property: Description("The customer now (the survivor when the id asked for was merged away).")] Guid? CustomerId,
    [property: Description("The id asked for.")] Guid RequestedId,
    [property: Description("Customers merged into this one.")] IReadOnlyList<Guid>? MergedFrom,
    [property: Description("The customer's identifiers as identity shows them (type, value, and whether they are shared).")] JsonNode? Identifiers,
    IReadOnlyList<string>? Channels,
    [property: Description("The customer's effort score (their worst open journey's); 0 when nothing was scored yet.")] int? Score,
    IReadOnlyList<EffortDriver>? Drivers,
    [property: Description("How many journeys are open.")] int? OpenJourneys,
    [property: Description("The worst open journey, null when none is open.")] OpenJourneyContext? OpenJourney,
    [property: Description("Open alerts as alerting lists them; null when alerting could not be read.")] JsonArray? OpenAlerts,
    [property: Description("The parts that could not be read (effort, alerting); the rest still answers.")] IReadOnlyList<string> Unavailable);

/// <summary>The open journey of a context: what the customer has been through on it.</summary>
public sealed record OpenJourneyContext(
    Guid? Id,
    string? Topic,
    DateTimeOffset? OpenedAt,
    int? Score,
    [property: Description("Channels the customer tried on this journey.")] IReadOnlyList<string>? ChannelsTried,
    [property: Description("How many contacts the journey holds.")] int Contacts,
    int? Transfers,
    double? HoldSeconds,
    double? QueueWaitSeconds,
    int? CesScore,
    LastContactContext? LastContact);

/// <summary>The journey's latest contact.</summary>
public sealed record LastContactContext(
    [property: Description("source:contactId")] string? Id,
    string? Source,
    string? Channel,
    string? Direction,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    bool? Resolved);

/// <summary>
/// What an agent or CRM needs in one call so the customer repeats nothing: who they are (identity), the journey they are
/// on and its effort (effort), and the alerts open for them (alerting), read in parallel for the tenant of the key.
/// Identity answers a merged id with the survivor; effort and alerting are asked again for the survivor then.
/// A part that cannot be read is left out and named in "unavailable", so the context still answers.
/// </summary>
public sealed class CustomerContextComposer(UpstreamReader upstream)
{
    public async Task Compose(Guid id, HttpContext http)
    {
        // Admitted by TenantAdmission and within the tenant's rate limit, as every /v1 request.
        var tenant = TenantAdmission.TenantOf(http) ?? throw new InvalidOperationException("the context was asked for without an admitted tenant");
        if (await upstream.CustomerWithEffort(id, http, tenant, withAlerts: true) is not { } read)
        {
            return;
        }
        var (identity, _, effort, alerts) = read;
        // Written with every field, null or not, as the context has always been.
        await Results.Json(Build(id, identity, effort, alerts!), JsonSerializerOptions.Web, statusCode: StatusCodes.Status200OK).ExecuteAsync(http);
    }

    private static CustomerContext Build(Guid requestedId, JsonNode identity, UpstreamPart effort, UpstreamPart alerts)
    {
        var unavailable = new List<string>();
        int? score = null;
        IReadOnlyList<EffortDriver>? drivers = null;
        int? openJourneys = null;
        OpenJourneyContext? openJourney = null;
        // Effort 404 means no contact has been scored yet: no journey and no effort, not a failure.
        if (effort.Ok || effort.Status == HttpStatusCode.NotFound)
        {
            var body = effort.Body;
            var open = effort.Ok ? body!["openJourneys"]?.AsArray() : null;
            var worstId = effort.Ok ? body!["worstJourneyId"]?.ToString() : null;
            var journey = open?.FirstOrDefault(j => j?["id"]?.ToString() == worstId) ?? open?.FirstOrDefault();
            score = effort.Ok ? body!["score"]?.GetValue<int>() : 0;
            drivers = effort.Ok ? body!["drivers"]?.Deserialize<List<EffortDriver>>(JsonSerializerOptions.Web) : [];
            openJourneys = open?.Count ?? 0;
            openJourney = journey is null ? null : OpenJourney(journey);
        }
        else
        {
            unavailable.Add("effort");
        }

        JsonArray? openAlerts = null;
        if (alerts.Ok)
        {
            openAlerts = alerts.Body switch
            {
                JsonArray list => (JsonArray)list.DeepClone(),
                JsonObject page when page["items"] is JsonArray items => (JsonArray)items.DeepClone(),
                JsonObject page when page["alerts"] is JsonArray items => (JsonArray)items.DeepClone(),
                _ => [],
            };
        }
        else
        {
            unavailable.Add("alerting");
        }
        return new CustomerContext(identity["id"]?.GetValue<Guid>(), requestedId, identity["mergedFrom"]?.Deserialize<List<Guid>>(),
            identity["identifiers"]?.DeepClone(), identity["channels"]?.Deserialize<List<string>>(), score, drivers, openJourneys, openJourney,
            openAlerts, unavailable);
    }

    private static OpenJourneyContext OpenJourney(JsonNode journey)
    {
        var contacts = journey["contacts"]?.AsArray() ?? [];
        var last = contacts.Where(c => c is not null).OrderBy(c => c!["startedAt"]?.GetValue<DateTimeOffset>()).LastOrDefault();
        return new OpenJourneyContext(
            journey["id"]?.GetValue<Guid>(),
            journey["topic"]?.GetValue<string>(),
            journey["openedAt"]?.GetValue<DateTimeOffset>(),
            journey["score"]?.GetValue<int>(),
            journey["channels"]?.Deserialize<List<string>>(),
            contacts.Count,
            journey["transfers"]?.GetValue<int>(),
            journey["holdSeconds"]?.GetValue<double>(),
            journey["queueWaitSeconds"]?.GetValue<double>(),
            journey["cesScore"]?.GetValue<int>(),
            last is null ? null : new LastContactContext(
                last["id"]?.GetValue<string>(),
                last["source"]?.GetValue<string>(),
                last["channel"]?.GetValue<string>(),
                last["direction"]?.GetValue<string>(),
                last["startedAt"]?.GetValue<DateTimeOffset>(),
                last["endedAt"]?.GetValue<DateTimeOffset>(),
                last["resolved"]?.GetValue<bool>()));
    }
}
