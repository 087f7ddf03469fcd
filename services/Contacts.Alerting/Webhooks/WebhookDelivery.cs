using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Contacts.Alerting.Subscriptions;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Contacts.ServiceDefaults.Resilience;
using Contacts.ServiceDefaults.Telemetry;
using Contacts.ServiceDefaults.Webhooks;
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
        // Every CRM URL, the deployment-wide one and subscribers': every resolved address checked at connect time, redirects not followed.
        builder.Services.AddCrmClients();
        builder.Services.AddHostedService<WebhookDispatcher>();
        builder.Services.AddHostedService<SubscriptionMonitor>();
        builder.Services.AddOptions<EventLogOptions>().Bind(builder.Configuration.GetSection("Alerting:EventLog"));
        builder.Services.AddHostedService<EventLogSequencer>();
        builder.Services.AddOptions<AmqpSubscriptionOptions>().Bind(builder.Configuration.GetSection("Alerting:Amqp"));
        builder.Services.AddHttpClient(QueueAccess.HttpClientName);
        builder.Services.AddSingleton<QueueAccess>();
        builder.Services.AddSingleton<QueuePublisher>();
        return builder;
    }
}

/// <summary>
/// Delivers queued webhooks: signed POSTs, a 2xx within the timeout counts, 410 disables, anything else (429, 5xx, 3xx,
/// timeouts, refused connections, forbidden addresses) is retried on the schedule (DeliveryPolicy). webhook-id is stable
/// across retries and subscriptions, so a CRM that saw an attempt whose answer we lost recognises the retry. Every attempt
/// is logged (time, status, latency, error) for the delivery log.
/// </summary>
internal sealed partial class WebhookDispatcher(
    NpgsqlDataSource dataSource,
    Database database,
    MigrationState migrations,
    WebhookSignal signal,
    IHttpClientFactory httpClients,
    IOptions<WebhookOptions> options,
    QueuePublisher queuePublisher,
    TimeProvider clock,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    /// <summary>How long past the POST timeout a claimed delivery stays claimed: after a crash it is due again then.</summary>
    private static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(5);
    private readonly WebhookOptions _options = options.Value;

    private sealed record Due(Guid Id, Guid MessageId, string Url, string Body, int Attempts, string? Traceparent, Guid? SubscriptionId);

    /// <summary>A subscription as the dispatcher needs it: how to sign (webhooks) or which queue (amqp), and its health.</summary>
    private sealed record Signing(string Secret, string? PreviousSecret, string Status, DateTimeOffset? FailingSince, string? Queue);

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
    /// concurrently, and records the pass's outcomes together in one transaction (one statement for all of them). A crash
    /// can only re-send the POSTs of the pass in hand at that moment, after their lease ends, with the same webhook-id
    /// (which the Standard Webhooks spec lets a CRM de-duplicate).
    /// </summary>
    private async Task<int> DeliverBatch(CancellationToken ct)
    {
        var due = new List<Due>();
        await using (var claim = dataSource.CreateCommand("""
            with picked as (
                select d.id, d.next_attempt_at as due_at from webhook_deliveries d
                where d.status = 'pending' and d.next_attempt_at <= now()
                    and not exists (select 1 from webhook_subscriptions s where s.id = d.subscription_id and s.status = 'paused')
                order by d.next_attempt_at, d.id limit @limit for update of d skip locked)
            update webhook_deliveries w set next_attempt_at = now() + @lease, claimed_at = now()
            from picked where w.id = picked.id
            returning w.id, w.message_id, w.url, w.body, w.attempts, w.traceparent, w.subscription_id, picked.due_at
            """))
        {
            claim.Parameters.AddWithValue("limit", _options.BatchSize);
            claim.Parameters.AddWithValue("lease", _options.Timeout + LeaseMargin);
            await using var reader = await claim.ExecuteReaderAsync(ct);
            var claimed = new List<(DateTimeOffset DueAt, Due Due)>();
            while (await reader.ReadAsync(ct))
            {
                claimed.Add((reader.GetFieldValue<DateTimeOffset>(7), new Due(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3),
                    reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetGuid(6))));
            }
            // RETURNING keeps no order: put them back in the order they fell due (queued), so each subscription's go in that order.
            due.AddRange(claimed.OrderBy(c => c.DueAt).ThenBy(c => c.Due.Id).Select(c => c.Due));
        }
        var signing = await SigningFor(due.Where(d => d.SubscriptionId is not null).Select(d => d.SubscriptionId!.Value).Distinct().ToArray(), ct);
        // One subscription's deliveries go one after another in the order they were queued (a resumed subscription gets its
        // backlog in order); different subscriptions, and the deployment-wide URL's deliveries, go concurrently.
        var outcomes = new ConcurrentQueue<Outcome>();
        await Task.WhenAll(due.GroupBy(d => d.SubscriptionId ?? d.Id).Select(async group =>
        {
            foreach (var d in group)
            {
                if (d.SubscriptionId is not { } subscription)
                {
                    outcomes.Enqueue(new Outcome(d, null, await Post(d, _options.Secret, null, CrmClients.Deployment, ct)));
                }
                else if (signing.TryGetValue(subscription, out var s) && s.Status == "enabled")
                {
                    outcomes.Enqueue(new Outcome(d, s,
                        s.Queue is { } queue ? await Enqueue(d, queue, ct) : await Post(d, s.Secret, s.PreviousSecret, CrmClients.Subscribers, ct)));
                }
                else if (s?.Status == "paused")
                {
                    await Release(d.Id, ct); // paused since it was claimed: it waits for the resume
                }
                else
                {
                    await Skip(d.Id, ct); // disabled since it was queued (deleted ones took their deliveries with them)
                }
            }
        }));
        if (!outcomes.IsEmpty)
        {
            await Record([.. outcomes], ct);
        }
        return due.Count;
    }

    private async Task<Dictionary<Guid, Signing>> SigningFor(Guid[] subscriptions, CancellationToken ct)
    {
        var result = new Dictionary<Guid, Signing>();
        if (subscriptions.Length == 0)
        {
            return result;
        }
        await using var cmd = dataSource.CreateCommand("""
            select id, secret, case when previous_secret_until > now() then previous_secret end, status, failing_since, queue
            from webhook_subscriptions where id = any(@ids)
            """);
        cmd.Parameters.AddWithValue("ids", subscriptions);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[reader.GetGuid(0)] = new Signing(reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetString(5));
        }
        return result;
    }

    private async Task Release(Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("update webhook_deliveries set claimed_at = null, next_attempt_at = now() where id = @id and status = 'pending'");
        cmd.Parameters.AddWithValue("id", id);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private async Task Skip(Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            update webhook_deliveries set status = 'disabled', claimed_at = null, last_error = 'the subscription is disabled' where id = @id and status = 'pending'
            """);
        cmd.Parameters.AddWithValue("id", id);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A POST (or queue publish) done, with the subscription it went for (null: the deployment-wide URL).</summary>
    private sealed record Outcome(Due Due, Signing? Subscription, Attempt Attempt);

    /// <summary>
    /// Records a pass's outcomes in one transaction: one statement for every delivery and its attempt, then what they do to
    /// their subscriptions (rarely anything). The POSTs are done: failing to record them would send them again once their
    /// claims run out, so this rides out a busy database.
    /// </summary>
    private async Task Record(IReadOnlyList<Outcome> outcomes, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var decisions = outcomes.Select(o => DeliveryPolicy.Decide(o.Due.Attempts + 1, o.Attempt.Status, now, o.Subscription?.FailingSince,
            _options.Schedule, _options.DisableAfter, subscribed: o.Subscription is not null)).ToArray();
        var announced = await DatabaseRetries.Transient.ExecuteAsync(async ct => await database.InTransaction(async session =>
        {
            await using (var update = session.Command("""
                with o as (
                    select * from unnest(@ids, @states, @attempts, @codes, @errors, @delays, @ats, @latencies)
                        as o(id, state, attempts, code, error, delay, at, latency)),
                updated as (
                    update webhook_deliveries w set status = o.state, attempts = o.attempts, last_status_code = o.code, last_error = o.error,
                        next_attempt_at = now() + o.delay, claimed_at = null, delivered_at = case when o.state = 'delivered' then now() end
                    from o where w.id = o.id and w.status = 'pending')
                insert into webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error)
                select o.id, o.at, o.code, o.latency, o.error from o where exists (select 1 from webhook_deliveries d where d.id = o.id)
                """))
            {
                update.Parameters.AddWithValue("ids", outcomes.Select(o => o.Due.Id).ToArray());
                update.Parameters.AddWithValue("states", decisions.Select(d => d.State).ToArray());
                update.Parameters.AddWithValue("attempts", outcomes.Select(o => o.Due.Attempts + 1).ToArray());
                update.Parameters.AddWithValue("codes", outcomes.Select(o => o.Attempt.Status).ToArray());
                update.Parameters.Add(new NpgsqlParameter("errors", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
                {
                    Value = outcomes.Select(o => (object?)o.Attempt.Error ?? DBNull.Value).ToArray(),
                });
                update.Parameters.AddWithValue("delays", decisions.Select(d => d.NextDelay).ToArray());
                update.Parameters.AddWithValue("ats", outcomes.Select(o => o.Attempt.At).ToArray());
                update.Parameters.AddWithValue("latencies", outcomes.Select(o => (int)Math.Min(int.MaxValue, o.Attempt.Latency.TotalMilliseconds)).ToArray());
                await update.ExecuteNonQueryAsync(ct);
            }
            var announced = false;
            for (var i = 0; i < outcomes.Count; i++)
            {
                if (outcomes[i].Due.SubscriptionId is { } subscriptionId && decisions[i].Effect != SubscriptionEffect.None)
                {
                    announced |= await ChangeSubscription(session, subscriptionId, decisions[i], outcomes[i].Attempt, ct) is not null;
                }
            }
            return announced;
        }, ct), ct);
        if (announced)
        {
            signal.Notify();
        }
        for (var i = 0; i < outcomes.Count; i++)
        {
            var (due, decision) = (outcomes[i].Due, decisions[i]);
            ContactsTelemetry.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("outcome", decision.State));
            if (decision.State != DeliveryStates.Delivered)
            {
                LogAttemptFailed(logger, due.Id, due.Attempts + 1, outcomes[i].Attempt.Status, outcomes[i].Attempt.Error, decision.State);
            }
            if (decision.Effect == SubscriptionEffect.Disable)
            {
                LogSubscriptionDisabled(logger, due.SubscriptionId!.Value, decision.DisabledReason);
            }
        }
    }

    private sealed record Attempt(DateTimeOffset At, int? Status, string? Error, TimeSpan Latency);

    /// <summary>
    /// What the attempt does to its subscription (healthy again, failing once more, disabled), in the attempt's transaction,
    /// and the operational event it announces to the tenant's other subscriptions (SubscriptionHealth.Announce); returns it.
    /// </summary>
    private async Task<string?> ChangeSubscription(Session session, Guid subscriptionId, AttemptDecision decision, Attempt outcome, CancellationToken ct)
    {
        await using var change = session.Command(decision.Effect switch
        {
            SubscriptionEffect.Healthy => """
                update webhook_subscriptions s set failing_since = null, failed_in_row = 0, failing_announced = false
                from (select id, failing_announced as was from webhook_subscriptions where id = @sub) before
                where s.id = before.id and (s.failing_since is not null or s.failed_in_row > 0 or s.failing_announced)
                returning s.tenant_id, s.type, coalesce(s.queue, s.url), s.status, s.failing_since, s.failed_in_row, s.disabled_reason,
                    before.was, true
                """,
            SubscriptionEffect.Failing => """
                update webhook_subscriptions set failing_since = coalesce(failing_since, @at), failed_in_row = failed_in_row + 1
                where id = @sub
                returning tenant_id, type, coalesce(queue, url), status, failing_since, failed_in_row, disabled_reason, failing_announced, true
                """,
            _ => """
                with changed as (
                    update webhook_subscriptions set status = 'disabled', disabled_reason = @reason, disabled_at = now(),
                        failing_since = coalesce(failing_since, @at), failed_in_row = failed_in_row + 1, paused_at = null
                    where id = @sub and status = 'enabled'
                    returning tenant_id, type, coalesce(queue, url), status, failing_since, failed_in_row, disabled_reason, failing_announced),
                dropped as (
                    update webhook_deliveries set status = 'disabled', last_error = coalesce(last_error, 'the subscription is disabled')
                    where subscription_id = @sub and status = 'pending' and claimed_at is null and exists (select 1 from changed))
                select changed.*, true from changed
                """,
        });
        change.Parameters.AddWithValue("sub", subscriptionId);
        change.Parameters.AddWithValue("at", outcome.At);
        change.Parameters.AddWithValue("reason", decision.DisabledReason ?? "disabled");
        SubscriptionEventData data;
        string? announce;
        string tenant;
        await using (var reader = await change.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return null; // nothing changed: healthy and already so, or disabled already
            }
            tenant = reader.GetString(0);
            var failedInRow = reader.GetInt32(5);
            announce = SubscriptionHealth.Announce(decision.Effect, failedInRow, reader.GetBoolean(7), wasEnabled: reader.GetBoolean(8));
            data = new SubscriptionEventData(subscriptionId, reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), failedInRow, outcome.Status, outcome.Error,
                reader.IsDBNull(6) ? null : reader.GetString(6));
        }
        if (announce is null)
        {
            return null;
        }
        if (announce != SubscriptionWebhookTypes.Recovered)
        {
            await using var mark = session.Command("update webhook_subscriptions set failing_announced = true where id = @sub");
            mark.Parameters.AddWithValue("sub", subscriptionId);
            await mark.ExecuteNonQueryAsync(ct);
        }
        await WebhookQueue.Enqueue(session, tenant, Guid.CreateVersion7(), announce, outcome.At, data, _options, ct, exceptSubscription: subscriptionId);
        return announce;
    }

    /// <summary>A queue subscription's delivery: into its queue, confirmed by the broker (logged as 200), with the webhook-id as message-id.</summary>
    private async Task<Attempt> Enqueue(Due due, string queue, CancellationToken ct)
    {
        var at = clock.GetUtcNow();
        var started = Stopwatch.GetTimestamp();
        try
        {
            var type = System.Text.Json.JsonDocument.Parse(due.Body).RootElement.GetProperty("type").GetString() ?? "";
            await queuePublisher.Publish(queue, due.MessageId, type, due.Body, ct);
            return new Attempt(at, 200, null, Stopwatch.GetElapsedTime(started));
        }
        catch (HttpRequestException ex) when (!ct.IsCancellationRequested)
        {
            return new Attempt(at, null, ex.Message, Stopwatch.GetElapsedTime(started));
        }
    }

    private async Task<Attempt> Post(Due due, string? secret, string? previousSecret, string client, CancellationToken ct)
    {
        ActivityContext.TryParse(due.Traceparent, null, out var parent);
        using var activity = ContactsTelemetry.Source.StartActivity("webhook deliver", ActivityKind.Client, parent);
        activity?.SetTag("webhook.id", due.MessageId);
        var at = clock.GetUtcNow();
        var started = Stopwatch.GetTimestamp();
        try
        {
            var timestamp = at.ToUnixTimeSeconds();
            var webhookId = due.MessageId.ToString();
            using var request = new HttpRequestMessage(HttpMethod.Post, due.Url)
            {
                Content = new StringContent(due.Body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add(StandardWebhooks.IdHeader, webhookId);
            request.Headers.Add(StandardWebhooks.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(secret))
            {
                // After a rotation the old secret signs too (space-separated), so a CRM still on it keeps verifying.
                var signatures = StandardWebhooks.Sign(secret, webhookId, timestamp, due.Body);
                if (!string.IsNullOrEmpty(previousSecret))
                {
                    signatures += " " + StandardWebhooks.Sign(previousSecret, webhookId, timestamp, due.Body);
                }
                request.Headers.Add(StandardWebhooks.SignatureHeader, signatures);
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.Timeout);
            using var response = await httpClients.CreateClient(client).SendAsync(request, timeout.Token);
            activity?.SetTag("http.response.status_code", (int)response.StatusCode);
            return new Attempt(at, (int)response.StatusCode, response.IsSuccessStatusCode ? null : $"{(int)response.StatusCode} {response.ReasonPhrase}".Trim(),
                Stopwatch.GetElapsedTime(started));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            var error = ex is TaskCanceledException ? $"no answer within {_options.Timeout.TotalSeconds:0} s" : Describe(ex);
            return new Attempt(at, null, error, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>The innermost reason (a refused address says so), which is what a subscriber can act on.</summary>
    private static string Describe(Exception ex)
    {
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is ForbiddenAddressException forbidden)
            {
                return $"refused: {forbidden.Message}";
            }
        }
        return ex.InnerException is { } cause ? $"{ex.Message} ({cause.Message})" : ex.Message;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook pass failed: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId} attempt {Attempt} got {Status} {Error}; now {State}")]
    private static partial void LogAttemptFailed(ILogger logger, Guid deliveryId, int attempt, int? status, string? error, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook subscription {SubscriptionId} disabled: {Reason}")]
    private static partial void LogSubscriptionDisabled(ILogger logger, Guid subscriptionId, string? reason);
}
