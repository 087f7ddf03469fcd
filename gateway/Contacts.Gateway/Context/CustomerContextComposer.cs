using System.ComponentModel;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Contracts;
using Contacts.Gateway.Proxy;
using Contacts.ServiceDefaults.Tenancy;

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
public sealed class CustomerContextComposer(IHttpClientFactory clients, IConfiguration configuration)
{
    private sealed record Part(HttpStatusCode? Status, JsonNode? Body)
    {
        public bool Ok => Status == HttpStatusCode.OK && Body is not null;
    }

    public async Task Compose(Guid id, HttpContext http)
    {
        // Admitted by TenantAdmission and within the tenant's rate limit, as every /v1 request.
        var tenant = TenantAdmission.TenantOf(http) ?? throw new InvalidOperationException("the context was asked for without an admitted tenant");
        var ct = http.RequestAborted;
        var identityTask = Get(Upstreams.Identity, $"/v1/customers/{id}", tenant, ct);
        var effortTask = Get(Upstreams.Effort, $"/v1/customers/{id}/effort", tenant, ct);
        var alertsTask = Get(Upstreams.Alerting, $"/v1/alerts?customerId={id}&status=open", tenant, ct);
        var identity = await identityTask;
        if (identity.Status == HttpStatusCode.NotFound)
        {
            await Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No customer {id} in this tenant.")
                .ExecuteAsync(http);
            return;
        }
        if (!identity.Ok)
        {
            await Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Upstream unavailable",
                detail: "The identity service could not be read.").ExecuteAsync(http);
            return;
        }
        var (effort, alerts) = (await effortTask, await alertsTask);
        var customerId = identity.Body!["id"]!.GetValue<Guid>();
        if (customerId != id)
        {
            (effort, alerts) = (await Get(Upstreams.Effort, $"/v1/customers/{customerId}/effort", tenant, ct),
                await Get(Upstreams.Alerting, $"/v1/alerts?customerId={customerId}&status=open", tenant, ct));
        }
        // Written with every field, null or not, as the context has always been.
        await Results.Json(Build(id, identity.Body!, effort, alerts), JsonSerializerOptions.Web, statusCode: StatusCodes.Status200OK).ExecuteAsync(http);
    }

    private static CustomerContext Build(Guid requestedId, JsonNode identity, Part effort, Part alerts)
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

    private async Task<Part> Get(string service, string pathAndQuery, string tenant, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Add(Tenant.Header, tenant);
        if (configuration["Internal:Key"] is { Length: > 0 } internalKey)
        {
            request.Headers.Add(Tenant.InternalKeyHeader, internalKey);
        }
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // The context answers within seconds even when one part hangs; that part is reported unavailable.
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await clients.CreateClient(service).SendAsync(request, timeout.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return new Part(response.StatusCode, null);
            }
            return new Part(response.StatusCode, await JsonNode.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token), cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException && !ct.IsCancellationRequested)
        {
            return new Part(null, null);
        }
    }
}
