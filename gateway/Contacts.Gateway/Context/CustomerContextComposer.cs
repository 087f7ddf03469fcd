using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Gateway.Proxy;
using Contacts.ServiceDefaults.Tenancy;

namespace Contacts.Gateway.Context;

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
        await Results.Json(Build(id, identity.Body!, effort, alerts), statusCode: StatusCodes.Status200OK).ExecuteAsync(http);
    }

    private static JsonObject Build(Guid requestedId, JsonNode identity, Part effort, Part alerts)
    {
        var unavailable = new JsonArray();
        var context = new JsonObject
        {
            ["customerId"] = identity["id"]?.DeepClone(),
            ["requestedId"] = requestedId,
            ["mergedFrom"] = identity["mergedFrom"]?.DeepClone(),
            ["identifiers"] = identity["identifiers"]?.DeepClone(),
            ["channels"] = identity["channels"]?.DeepClone(),
        };

        // Effort 404 means no contact has been scored yet: no journey and no effort, not a failure.
        if (effort.Ok || effort.Status == HttpStatusCode.NotFound)
        {
            var body = effort.Body;
            var open = effort.Ok ? body!["openJourneys"]?.AsArray() : null;
            var worstId = effort.Ok ? body!["worstJourneyId"]?.ToString() : null;
            var journey = open?.FirstOrDefault(j => j?["id"]?.ToString() == worstId) ?? open?.FirstOrDefault();
            context["score"] = effort.Ok ? body!["score"]?.DeepClone() : 0;
            context["drivers"] = effort.Ok ? body!["drivers"]?.DeepClone() : new JsonArray();
            context["openJourneys"] = open?.Count ?? 0;
            context["openJourney"] = journey is null ? null : OpenJourney(journey);
        }
        else
        {
            unavailable.Add("effort");
        }

        if (alerts.Ok)
        {
            context["openAlerts"] = alerts.Body switch
            {
                JsonArray list => list.DeepClone(),
                JsonObject page when page["items"] is JsonArray items => items.DeepClone(),
                JsonObject page when page["alerts"] is JsonArray items => items.DeepClone(),
                _ => new JsonArray(),
            };
        }
        else
        {
            unavailable.Add("alerting");
        }
        context["unavailable"] = unavailable;
        return context;
    }

    private static JsonObject OpenJourney(JsonNode journey)
    {
        var contacts = journey["contacts"]?.AsArray() ?? [];
        var last = contacts.Where(c => c is not null).OrderBy(c => c!["startedAt"]?.GetValue<DateTimeOffset>()).LastOrDefault();
        return new JsonObject
        {
            ["id"] = journey["id"]?.DeepClone(),
            ["topic"] = journey["topic"]?.DeepClone(),
            ["openedAt"] = journey["openedAt"]?.DeepClone(),
            ["score"] = journey["score"]?.DeepClone(),
            ["channelsTried"] = journey["channels"]?.DeepClone(),
            ["contacts"] = contacts.Count,
            ["transfers"] = journey["transfers"]?.DeepClone(),
            ["holdSeconds"] = journey["holdSeconds"]?.DeepClone(),
            ["queueWaitSeconds"] = journey["queueWaitSeconds"]?.DeepClone(),
            ["cesScore"] = journey["cesScore"]?.DeepClone(),
            ["lastContact"] = last is null ? null : new JsonObject
            {
                ["id"] = last["id"]?.DeepClone(),
                ["source"] = last["source"]?.DeepClone(),
                ["channel"] = last["channel"]?.DeepClone(),
                ["direction"] = last["direction"]?.DeepClone(),
                ["startedAt"] = last["startedAt"]?.DeepClone(),
                ["endedAt"] = last["endedAt"]?.DeepClone(),
                ["resolved"] = last["resolved"]?.DeepClone(),
            },
        };
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
