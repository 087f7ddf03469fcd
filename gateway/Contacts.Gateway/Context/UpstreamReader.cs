using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Gateway.Proxy;
using Contacts.ServiceDefaults.Tenancy;

namespace Contacts.Gateway.Context;

/// <summary>One upstream's answer to a composed read: its status (null when it could not be reached) and its JSON body when 200.</summary>
public sealed record UpstreamPart(HttpStatusCode? Status, JsonNode? Body)
{
    public bool Ok => Status == HttpStatusCode.OK && Body is not null;
}

/// <summary>
/// The reads a composed answer (context, brief) makes of the services, on behalf of the admitted tenant with the internal
/// key. Each answers within seconds even when a service hangs; a part that cannot be read comes back with no status.
/// </summary>
public sealed class UpstreamReader(IHttpClientFactory clients, IConfiguration configuration)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<UpstreamPart> Get(string service, string pathAndQuery, string tenant, CancellationToken ct)
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
            timeout.CancelAfter(Timeout);
            using var response = await clients.CreateClient(service).SendAsync(request, timeout.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return new UpstreamPart(response.StatusCode, null);
            }
            return new UpstreamPart(response.StatusCode,
                await JsonNode.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token), cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException && !ct.IsCancellationRequested)
        {
            return new UpstreamPart(null, null);
        }
    }

    /// <summary>
    /// Identity's customer (404 and 502 answered here as ProblemDetails, then null) and the effort read for the customer it
    /// names: a merged id answers for the survivor, so effort is asked again for the survivor when the first read named another.
    /// </summary>
    public async Task<(JsonNode Identity, Guid CustomerId, UpstreamPart Effort, UpstreamPart? Alerts)?> CustomerWithEffort(
        Guid id, HttpContext http, string tenant, bool withAlerts)
    {
        var ct = http.RequestAborted;
        var identityTask = Get(Upstreams.Identity, $"/v1/customers/{id}", tenant, ct);
        var effortTask = Get(Upstreams.Effort, $"/v1/customers/{id}/effort", tenant, ct);
        var alertsTask = withAlerts ? Get(Upstreams.Alerting, $"/v1/alerts?customerId={id}&status=open", tenant, ct) : null;
        var identity = await identityTask;
        if (identity.Status == HttpStatusCode.NotFound)
        {
            await Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No customer {id} in this tenant.")
                .ExecuteAsync(http);
            return null;
        }
        if (!identity.Ok)
        {
            await Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Upstream unavailable",
                detail: "The identity service could not be read.").ExecuteAsync(http);
            return null;
        }
        var (effort, alerts) = (await effortTask, alertsTask is null ? null : await alertsTask);
        var customerId = identity.Body!["id"]!.GetValue<Guid>();
        if (customerId != id)
        {
            effort = await Get(Upstreams.Effort, $"/v1/customers/{customerId}/effort", tenant, ct);
            alerts = withAlerts ? await Get(Upstreams.Alerting, $"/v1/alerts?customerId={customerId}&status=open", tenant, ct) : null;
        }
        return (identity.Body!, customerId, effort, alerts);
    }
}
