using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Contacts.Alerting.Alerts;
using Contacts.Contracts;
using Contacts.ServiceDefaults.Messaging;
using Contacts.ServiceDefaults.Persistence;
using Contacts.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Alerting.Webhooks;

public static class WebhookDeliverySetup
{
    public static WebApplicationBuilder AddWebhookDelivery(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<WebhookOptions>().Bind(builder.Configuration.GetSection("Alerting:Webhook"));
        builder.Services.AddSingleton<WebhookSignal>();
        builder.Services.AddHttpClient(WebhookDispatcher.HttpClientName);
        builder.Services.AddHostedService<WebhookDispatcher>();
        return builder;
    }
}

/// <summary>The webhook types: one per change of an alert.</summary>
public static class AlertWebhookTypes
{
    public const string Raised = "alert.raised";
    public const string Escalated = "alert.escalated";
    public const string Acknowledged = "alert.acknowledged";
    public const string Resolved = "alert.resolved";
    public static readonly string[] All = [Raised, Escalated, Acknowledged, Resolved];
}

/// <summary>A webhook's data: the alert after the change, named by alertId (as the CRM de-duplicates and links by it).</summary>
public sealed record AlertWebhookData(
    Guid AlertId, Guid CustomerId, string Reason, string Status, int Level, int Score, IReadOnlyList<EffortDriver> Drivers, Guid ContactEventId,
    Guid? JourneyId, string? Topic, IReadOnlyList<string>? Channels, DateTimeOffset RaisedAt, DateTimeOffset UpdatedAt, DateTimeOffset? AcknowledgedAt,
    DateTimeOffset? ClosedAt, string? Resolution, Guid? SupersededBy, AlertLinks Links)
{
    public static AlertWebhookData Of(AlertView a) => new(a.Id, a.CustomerId, a.Reason, a.Status, a.Level, a.Score, a.Drivers, a.ContactEventId,
        a.JourneyId, a.Topic, a.Channels, a.RaisedAt, a.UpdatedAt, a.AcknowledgedAt, a.ClosedAt, a.Resolution, a.SupersededBy, a.Links);
}

/// <summary>Queues a webhook in the transaction that changed the alert, so it is delivered if and only if the change happened.</summary>
public static class WebhookQueue
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Body: {"type", "timestamp", "data": the alert as it is after the change}; deliveryId is the webhook-id.</summary>
    public static async Task<bool> Enqueue(Session session, Guid deliveryId, AlertView alert, string type, WebhookOptions options, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(options.Url))
        {
            return false;
        }
        var body = JsonSerializer.Serialize(new { type, timestamp = alert.UpdatedAt, data = AlertWebhookData.Of(alert) }, Json);
        await using var cmd = session.Command("""
            insert into webhook_deliveries (id, alert_id, url, body, traceparent, event_type) values (@id, @alert, @url, @body, @trace, @type)
            """);
        cmd.Parameters.AddWithValue("trace", (object?)Activity.Current?.Id ?? DBNull.Value);
        cmd.Parameters.AddWithValue("id", deliveryId);
        cmd.Parameters.AddWithValue("alert", alert.Id);
        cmd.Parameters.AddWithValue("url", options.Url);
        cmd.Parameters.AddWithValue("body", body);
        cmd.Parameters.AddWithValue("type", type);
        await cmd.ExecuteNonQueryAsync(ct);
        return true;
    }
}

/// <summary>
/// Delivers queued webhooks: signed POSTs, a 2xx within the timeout counts, 410 disables the delivery, anything else
/// (429, 5xx, timeouts, refused connections) is retried on the schedule. webhook-id is stable across retries, so a CRM
/// that saw an attempt whose answer we lost recognises the retry.
/// </summary>
internal sealed partial class WebhookDispatcher(
    NpgsqlDataSource dataSource,
    MigrationState migrations,
    WebhookSignal signal,
    IHttpClientFactory httpClients,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public const string HttpClientName = "webhooks";
    /// <summary>How long past the POST timeout a claimed delivery stays claimed: after a crash it is due again then.</summary>
    private static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(5);
    private readonly WebhookOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                claimed = await DeliverBatch(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, ex.Message);
            }
            if (claimed < _options.BatchSize)
            {
                await signal.WaitAsync(_options.PollInterval, stoppingToken);
            }
        }
    }

    /// <summary>
    /// Claims due deliveries with a lease (committed at once, so no transaction stays open across HTTP calls), POSTs them
    /// concurrently, and records each outcome as soon as it is known. A crash can only re-send the POSTs in flight at that
    /// moment, after their lease ends, with the same webhook-id (which the Standard Webhooks spec lets a CRM de-duplicate).
    /// </summary>
    private async Task<int> DeliverBatch(CancellationToken ct)
    {
        var due = new List<(Guid Id, string Url, string Body, int Attempts, string? Traceparent)>();
        await using (var claim = dataSource.CreateCommand("""
            update webhook_deliveries set next_attempt_at = now() + @lease
            where id in (select id from webhook_deliveries where status = 'pending' and next_attempt_at <= now()
                         order by next_attempt_at limit @limit for update skip locked)
            returning id, url, body, attempts, traceparent
            """))
        {
            claim.Parameters.AddWithValue("limit", _options.BatchSize);
            claim.Parameters.AddWithValue("lease", _options.Timeout + LeaseMargin);
            await using var reader = await claim.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                due.Add((reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }
        await Task.WhenAll(due.Select(async d => await Record(d.Id, d.Attempts + 1, await Post(d.Id, d.Url, d.Body, d.Traceparent, ct), ct)));
        return due.Count;
    }

    private async Task Record(Guid id, int attempts, (int? Status, string? Error) outcome, CancellationToken ct)
    {
        var (status, error) = outcome;
        var (state, nextDelay) = status switch
        {
            >= 200 and < 300 => ("delivered", TimeSpan.Zero),
            (int)HttpStatusCode.Gone => ("disabled", TimeSpan.Zero),
            _ when attempts >= _options.RetrySchedule.Length => ("failed", TimeSpan.Zero),
            _ => ("pending", _options.RetrySchedule[attempts]),
        };
        // The POST is done: failing to record it would send it again once the claim runs out, so ride out a busy database.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var update = dataSource.CreateCommand("""
                    update webhook_deliveries set status = @state, attempts = @attempts, last_status_code = @code, last_error = @error,
                        next_attempt_at = now() + @delay, delivered_at = case when @state = 'delivered' then now() end
                    where id = @id and status = 'pending'
                    """);
                update.Parameters.AddWithValue("id", id);
                update.Parameters.AddWithValue("state", state);
                update.Parameters.AddWithValue("attempts", attempts);
                update.Parameters.AddWithValue("code", (object?)status ?? DBNull.Value);
                update.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
                update.Parameters.AddWithValue("delay", nextDelay);
                await update.ExecuteNonQueryAsync(ct);
                break;
            }
            catch (Exception ex) when (attempt < 10 && RetryConventions.IsTransient(ex) && !ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(50 * Math.Pow(2, attempt), 2000)), ct);
            }
        }
        ContactsTelemetry.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("outcome", state));
        if (state != "delivered")
        {
            LogAttemptFailed(logger, id, attempts, status, error, state);
        }
    }

    private async Task<(int? Status, string? Error)> Post(Guid id, string url, string body, string? traceparent, CancellationToken ct)
    {
        ActivityContext.TryParse(traceparent, null, out var parent);
        using var activity = ContactsTelemetry.Source.StartActivity("webhook deliver", ActivityKind.Client, parent);
        activity?.SetTag("webhook.id", id);
        try
        {
            var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, url)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("webhook-id", id.ToString());
            request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(_options.Secret))
            {
                request.Headers.Add("webhook-signature", Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Sign(_options.Secret, id.ToString(), timestamp, body));
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.Timeout);
            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            activity?.SetTag("http.response.status_code", (int)response.StatusCode);
            return ((int)response.StatusCode, response.IsSuccessStatusCode ? null : response.ReasonPhrase);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            return (null, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook pass failed: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId} attempt {Attempt} got {Status} {Error}; now {State}")]
    private static partial void LogAttemptFailed(ILogger logger, Guid deliveryId, int attempt, int? status, string? error, string state);
}
