using System.Text.Json;
using Dapper;
using Npgsql;

namespace Contacts.Alerting.Subscriptions;

/// <summary>What a create stores: the subscription, its secret (a queue's password), and the Idempotency-Key it came with.</summary>
internal sealed record NewSubscriptionRow(Guid Id, string Tenant, string Type, string Url, string[] Events, string Secret, string? Queue,
    string? User, string? Key, string Fingerprint);

/// <summary>
/// Subscriptions and their delivery log in alerting's database: plain reads and writes, no decisions (those are
/// SubscriptionRequest's, DeliveryPolicy's and SubscriptionLifecycle's). Rows come back through Dapper into the records
/// below, whose parameters name the columns in order (Contacts.Persistence's DapperConventions).
/// </summary>
internal static class SubscriptionStore
{
    public static async Task<long> Count(NpgsqlConnection connection, string tenant, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "select count(*) from webhook_subscriptions where tenant_id = @tenant", new { tenant }, cancellationToken: ct));

    /// <summary>Stores a new subscription; false when another request with the same Idempotency-Key stored one first.</summary>
    public static async Task<bool> Insert(NpgsqlConnection connection, NewSubscriptionRow row, CancellationToken ct) =>
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into webhook_subscriptions (id, tenant_id, type, url, events, secret, queue, amqp_user, idempotency_key, fingerprint)
            values (@Id, @Tenant, @Type, @Url, @Events, @Secret, @Queue, @User, @Key, @Fingerprint)
            on conflict (tenant_id, idempotency_key) where idempotency_key is not null do nothing
            """, row, cancellationToken: ct)) > 0;

    /// <summary>The create's answer as stored (with the current secret) and the request fingerprint it was made from.</summary>
    public static Task<(SubscriptionCreated Value, string Fingerprint)?> Created(NpgsqlConnection connection, string tenant, Guid id, CancellationToken ct) =>
        ReadCreated(connection, "id = @id", new { tenant, id }, ct);

    public static Task<(SubscriptionCreated Value, string Fingerprint)?> ByIdempotencyKey(NpgsqlConnection connection, string tenant, string key,
        CancellationToken ct) =>
        ReadCreated(connection, "idempotency_key = @key", new { tenant, key }, ct);

    private static async Task<(SubscriptionCreated Value, string Fingerprint)?> ReadCreated(NpgsqlConnection connection, string where, object args,
        CancellationToken ct)
    {
        var row = await connection.QuerySingleOrDefaultAsync<CreatedRow>(new CommandDefinition($"""
            select id, url, events, status, created_at as createdat, secret, coalesce(fingerprint, '') as fingerprint, type, queue, amqp_user as amqpuser
            from webhook_subscriptions where tenant_id = @tenant and {where}
            """, args, cancellationToken: ct));
        return row is null ? null : (row.Created(), row.Fingerprint);
    }

    /// <summary>A page of the tenant's subscriptions, newest first; one more than the limit says whether another page follows.</summary>
    public static async Task<IReadOnlyList<SubscriptionView>> Page(NpgsqlDataSource database, string tenant, Guid? after, int take, CancellationToken ct)
    {
        await using var connection = database.CreateConnection();
        return [.. (await connection.QueryAsync<ViewRow>(new CommandDefinition($"""
            select {ViewColumns} from webhook_subscriptions
            where tenant_id = @tenant and (@after::uuid is null or id < @after) order by id desc limit @take
            """, new { tenant, after, take }, cancellationToken: ct))).Select(r => r.View())];
    }

    public static async Task<SubscriptionView?> Find(NpgsqlDataSource database, string tenant, Guid id, CancellationToken ct)
    {
        await using var connection = database.CreateConnection();
        return (await connection.QuerySingleOrDefaultAsync<ViewRow>(new CommandDefinition(
            $"select {ViewColumns} from webhook_subscriptions where tenant_id = @tenant and id = @id", new { tenant, id }, cancellationToken: ct)))?.View();
    }

    /// <summary>Deletes the subscription and, by cascade, its delivery log; false when the tenant has no such subscription.</summary>
    public static async Task<bool> Delete(NpgsqlDataSource database, string tenant, Guid id, CancellationToken ct)
    {
        await using var connection = database.CreateConnection();
        return await connection.ExecuteAsync(new CommandDefinition(
            "delete from webhook_subscriptions where tenant_id = @tenant and id = @id", new { tenant, id }, cancellationToken: ct)) > 0;
    }

    /// <summary>
    /// A webhook subscription's new secret; the old one keeps signing for <paramref name="previousLifetime"/>. Answers until
    /// when, or null when the tenant has no such webhook subscription (none, or a queue subscription).
    /// </summary>
    public static async Task<DateTimeOffset?> RotateSecret(NpgsqlDataSource database, string tenant, Guid id, string secret, TimeSpan previousLifetime,
        CancellationToken ct)
    {
        await using var connection = database.CreateConnection();
        return await connection.ExecuteScalarAsync<DateTimeOffset?>(new CommandDefinition("""
            update webhook_subscriptions set previous_secret = secret, previous_secret_until = now() + @seconds * interval '1 second', secret = @secret
            where tenant_id = @tenant and id = @id and type = 'webhook'
            returning previous_secret_until
            """, new { tenant, id, secret, seconds = previousLifetime.TotalSeconds }, cancellationToken: ct));
    }

    /// <summary>A page of a subscription's deliveries, newest first, each with every attempt.</summary>
    public static async Task<IReadOnlyList<DeliveryView>> Deliveries(NpgsqlDataSource database, Guid subscription, Guid? after, int take,
        CancellationToken ct)
    {
        await using var connection = database.CreateConnection();
        return await ReadDeliveries(connection, "d.subscription_id = @subscription and (@after::uuid is null or d.id < @after) order by d.id desc limit @take",
            new { subscription, after, take }, ct);
    }

    /// <summary>The status of the subscription a delivery belongs to, or null when the tenant has no such delivery.</summary>
    public static Task<string?> SubscriptionStatusOfDelivery(NpgsqlConnection connection, string tenant, Guid delivery, CancellationToken ct) =>
        connection.ExecuteScalarAsync<string?>(new CommandDefinition("""
            select s.status from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id where d.id = @delivery and s.tenant_id = @tenant
            """, new { tenant, delivery }, cancellationToken: ct));

    /// <summary>Queues a delivery again now on a fresh schedule, unless it is pending and being sent this moment.</summary>
    public static Task Requeue(NpgsqlConnection connection, Guid delivery, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            update webhook_deliveries set status = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = null
            where id = @delivery and (status <> 'pending' or claimed_at is null)
            """, new { delivery }, cancellationToken: ct));

    public static async Task<DeliveryView> Delivery(NpgsqlConnection connection, Guid delivery, CancellationToken ct) =>
        (await ReadDeliveries(connection, "d.id = @delivery", new { delivery }, ct)).Single();

    private static async Task<IReadOnlyList<DeliveryView>> ReadDeliveries(NpgsqlConnection connection, string where, object args, CancellationToken ct) =>
        [.. (await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            select d.id, d.subscription_id as subscriptionid, d.message_id as webhookid, d.event_type as eventtype, d.alert_id as alertid,
                   d.customer_id as customerid, d.status, d.created_at as createdat,
                   case when d.status = 'pending' then d.next_attempt_at end as nextattemptat, d.delivered_at as deliveredat,
                   coalesce((select json_agg(json_build_object('at', a.attempted_at, 'statusCode', a.status_code, 'latencyMs', a.latency_ms,
                       'error', a.error) order by a.id) from webhook_attempts a where a.delivery_id = d.id), '[]')::text as attempts
            from webhook_deliveries d
            where {where}
            """, args, cancellationToken: ct))).Select(r => r.View())];

    private const string ViewColumns = """
        id, url, events, status, disabled_reason as disabledreason, disabled_at as disabledat, failing_since as failingsince,
        case when previous_secret_until > now() then previous_secret_until end as previoussecretexpiresat, created_at as createdat, type, queue
        """;

    private sealed record ViewRow(Guid Id, string Url, string[] Events, string Status, string? DisabledReason, DateTimeOffset? DisabledAt,
        DateTimeOffset? FailingSince, DateTimeOffset? PreviousSecretExpiresAt, DateTimeOffset CreatedAt, string Type, string? Queue)
    {
        public SubscriptionView View() =>
            new(Id, Type, Url, Events, Status, DisabledReason, DisabledAt, FailingSince, PreviousSecretExpiresAt, CreatedAt, Queue);
    }

    private sealed record CreatedRow(Guid Id, string Url, string[] Events, string Status, DateTimeOffset CreatedAt, string Secret, string Fingerprint,
        string Type, string? Queue, string? AmqpUser)
    {
        /// <summary>A webhook's answer shows its secret; a queue's shows its address and credentials (the secret is the user's password).</summary>
        public SubscriptionCreated Created()
        {
            var amqp = Type == SubscriptionRequest.AmqpType
                ? new QueueAccessGranted(new UriBuilder(Url) { Password = Secret }.Uri.ToString(), Queue!, AmqpUser!, Secret)
                : null;
            return new SubscriptionCreated(Id, Type, Url, Events, Status, CreatedAt, amqp is null ? Secret : null, amqp);
        }
    }

    private sealed record DeliveryRow(Guid Id, Guid SubscriptionId, Guid WebhookId, string EventType, Guid? AlertId, Guid? CustomerId, string Status,
        DateTimeOffset CreatedAt, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt, string Attempts)
    {
        public DeliveryView View() => new(Id, SubscriptionId, WebhookId, EventType, AlertId, CustomerId, Status, CreatedAt, NextAttemptAt, DeliveredAt,
            JsonSerializer.Deserialize<List<DeliveryAttemptView>>(Attempts, JsonSerializerOptions.Web) ?? []);
    }
}
