using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Contacts.Messaging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Contacts.Alerting.Subscriptions;

/// <summary>Queue subscriptions ("Alerting:Amqp"): where the broker's management API is, and the AMQP address CRMs are given.</summary>
public sealed class AmqpSubscriptionOptions
{
    /// <summary>The RabbitMQ management API (http://host:15672/); queue subscriptions are refused when unset.</summary>
    public string? ManagementUrl { get; set; }

    /// <summary>The AMQP address CRMs connect to (amqp://host:port/vhost); the services' own broker address when unset.</summary>
    public string? PublicUri { get; set; }

    /// <summary>
    /// The most messages a subscription's queue holds. A CRM that stops reading fills it; then the broker refuses new ones
    /// (reject-publish): each refusal is a failed attempt, retried on the schedule, and the subscription is disabled after
    /// DisableAfter like a failing webhook, so nothing already queued is dropped and nothing new is lost (replay).
    /// </summary>
    public int MaxLength { get; set; } = 100_000;
}

/// <summary>What a queue subscriber is given once: where to connect, as whom, and the one queue it may read.</summary>
public sealed record QueueAccessGranted(
    [property: System.ComponentModel.Description("amqp://username:password@host:port/vhost")] string Uri,
    string Queue,
    string Username,
    string Password)
{
    /// <summary>The address as stored and shown after the create: without the password.</summary>
    public string UriWithoutPassword() => new UriBuilder(Uri) { Password = "" }.Uri.ToString();
}

/// <summary>
/// A queue subscription's broker side, through the RabbitMQ management API: a durable queue of its own and a user whose
/// permissions are reading that queue and nothing else (no configure, no write: it cannot bind, declare or publish).
/// Alerting puts only the subscribing tenant's events into it (straight into the queue, by the default exchange).
/// </summary>
public sealed class QueueAccess(IHttpClientFactory httpClients, IOptions<AmqpSubscriptionOptions> options, IOptions<RabbitMqOptions> rabbit)
{
    public const string HttpClientName = "rabbitmq-management";

    public bool Configured => !string.IsNullOrWhiteSpace(options.Value.ManagementUrl);

    public static string QueueName(Guid subscriptionId) => $"contacts.subscription.{subscriptionId:N}";

    public static string UserName(Guid subscriptionId) => $"contacts-subscription-{subscriptionId:N}";

    /// <summary>The virtual host alerting publishes in.</summary>
    private string VirtualHost => rabbit.Value.VirtualHost;

    public async Task<QueueAccessGranted> Create(Guid subscriptionId, CancellationToken ct)
    {
        var (queue, user) = (QueueName(subscriptionId), UserName(subscriptionId));
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        var vhost = Uri.EscapeDataString(VirtualHost);
        using var http = Management();
        // A quorum queue (replicated, as the services' own in production) with a length limit; when full, publishes are refused.
        await Ensure(await http.PutAsJsonAsync($"api/queues/{vhost}/{Uri.EscapeDataString(queue)}",
            new
            {
                durable = true,
                auto_delete = false,
                arguments = new Dictionary<string, object>
                {
                    ["x-queue-type"] = "quorum",
                    ["x-max-length"] = options.Value.MaxLength,
                    ["x-overflow"] = "reject-publish",
                },
            }, ct), "declare the queue");
        await Ensure(await http.PutAsJsonAsync($"api/users/{Uri.EscapeDataString(user)}", new { password, tags = "" }, ct), "create the user");
        await Ensure(await http.PutAsJsonAsync($"api/permissions/{vhost}/{Uri.EscapeDataString(user)}",
            new { configure = "^$", write = "^$", read = $"^{System.Text.RegularExpressions.Regex.Escape(queue)}$" }, ct), "set the user's permissions");
        var address = new UriBuilder(options.Value.PublicUri is { Length: > 0 } configured ? new Uri(configured) : rabbit.Value.Address)
        {
            UserName = Uri.EscapeDataString(user),
            Password = password,
        };
        if (options.Value.PublicUri is not { Length: > 0 })
        {
            address.Path = "/" + Uri.EscapeDataString(VirtualHost);
        }
        return new QueueAccessGranted(address.Uri.ToString(), queue, user, password);
    }

    /// <summary>
    /// Provisions a new subscription's queue and user; null when the broker refused or could not be reached, after removing
    /// again whatever part was made (as far as the broker lets it now).
    /// </summary>
    public async Task<QueueAccessGranted?> TryCreate(Guid subscriptionId, CancellationToken ct)
    {
        try
        {
            return await Create(subscriptionId, ct);
        }
        catch (Exception ex) when (ex is QueueAccessException or HttpRequestException)
        {
            await TryRemove(subscriptionId);
            return null;
        }
    }

    /// <summary>Removes what a create that will not be kept left on the broker, as far as the broker lets it now.</summary>
    public async Task TryRemove(Guid subscriptionId)
    {
        try
        {
            await Remove(subscriptionId, CancellationToken.None);
        }
        catch (Exception ex) when (ex is QueueAccessException or HttpRequestException)
        {
            // nothing refers to it; the user has no password anyone was given
        }
    }

    /// <summary>Deletes the user (closing its connections) and the queue; either already gone is fine.</summary>
    public async Task Remove(Guid subscriptionId, CancellationToken ct)
    {
        using var http = Management();
        var user = Uri.EscapeDataString(UserName(subscriptionId));
        await Ensure(await http.DeleteAsync($"api/users/{user}", ct), "delete the user", allowMissing: true);
        await Ensure(await http.DeleteAsync($"api/queues/{Uri.EscapeDataString(VirtualHost)}/{Uri.EscapeDataString(QueueName(subscriptionId))}", ct),
            "delete the queue", allowMissing: true);
    }

    /// <summary>
    /// The management API as the user named in ManagementUrl (http://user:password@host:15672/): the only one that may create
    /// users, given to alerting alone. Without credentials in it, the services' broker user (which then needs management rights).
    /// </summary>
    private HttpClient Management()
    {
        var http = httpClients.CreateClient(HttpClientName);
        var url = new Uri(options.Value.ManagementUrl!.TrimEnd('/') + "/");
        var credentials = url.UserInfo is { Length: > 0 } info
            ? Uri.UnescapeDataString(info)
            : $"{rabbit.Value.Username}:{rabbit.Value.Password}";
        http.BaseAddress = new UriBuilder(url) { UserName = "", Password = "" }.Uri;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        return http;
    }

    private static async Task Ensure(HttpResponseMessage response, string what, bool allowMissing = false)
    {
        using (response)
        {
            if (!response.IsSuccessStatusCode && !(allowMissing && response.StatusCode == HttpStatusCode.NotFound))
            {
                throw new QueueAccessException($"the broker's management API refused to {what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }
    }
}

public sealed class QueueAccessException(string message) : Exception(message);

/// <summary>
/// Puts a subscription's events into its queue: persistent, through the default exchange (routing key = the queue),
/// mandatory and confirmed, so a missing queue or a refusal is a failed attempt, retried like a webhook's.
/// </summary>
public sealed class QueuePublisher(IOptions<RabbitMqOptions> rabbit) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _channel;

    public async Task Publish(string queue, Guid messageId, string type, string body, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_channel is not { IsOpen: true })
            {
                await Reset();
                _connection = await rabbit.Value.CreateConnectionFactory().CreateConnectionAsync("alerting-queue-subscriptions", ct);
                _channel = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true,
                    publisherConfirmationTrackingEnabled: true), ct);
            }
            var properties = new BasicProperties
            {
                MessageId = messageId.ToString(),
                Type = type,
                ContentType = "application/json",
                Persistent = true,
                Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
            };
            await _channel.BasicPublishAsync("", queue, mandatory: true, properties, Encoding.UTF8.GetBytes(body), ct);
        }
        catch (Exception ex) when (ex is PublishException or AlreadyClosedException or OperationInterruptedException or BrokerUnreachableException)
        {
            await Reset();
            throw new HttpRequestException(ex is PublishException { IsReturn: true } ? $"the queue {queue} does not exist" : $"the broker refused: {ex.Message}", ex);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task Reset()
    {
        try
        {
            if (_channel is not null)
            {
                await _channel.DisposeAsync();
            }
            if (_connection is not null)
            {
                await _connection.DisposeAsync();
            }
        }
        catch (Exception)
        {
            // a broken connection may fail to close; a new one replaces it
        }
        (_channel, _connection) = (null, null);
    }

    public async ValueTask DisposeAsync()
    {
        await Reset();
        _gate.Dispose();
    }
}
