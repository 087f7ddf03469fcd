using System.Net;
using System.Net.Sockets;
using Contacts.Alerting.Webhooks;
using Microsoft.Extensions.Options;

namespace Contacts.Alerting.Subscriptions;

/// <summary>A subscription's URL led to an address it may not call (found on resolution, at send time).</summary>
public sealed class ForbiddenAddressException(string message) : Exception(message);

/// <summary>
/// The HTTP handler for subscribers' endpoints: resolves the host itself, refuses it when any resolved address is
/// forbidden (so a name cannot switch between a public and a private answer between check and use), connects to the
/// checked address, and never follows redirects.
/// </summary>
public static class GuardedConnect
{
    public static SocketsHttpHandler Handler(bool allowPrivate, TimeSpan connectTimeout) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        ConnectTimeout = connectTimeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectCallback = (context, ct) => Connect(context.DnsEndPoint, allowPrivate, ct),
    };

    public static async ValueTask<Stream> Connect(DnsEndPoint endpoint, bool allowPrivate, CancellationToken ct)
    {
        var addresses = await Resolve(endpoint.Host, ct);
        if (addresses.Length == 0)
        {
            throw new HttpRequestException($"{endpoint.Host} has no address");
        }
        foreach (var address in addresses)
        {
            if (UrlSafety.Refusal(address, allowPrivate) is { } why)
            {
                throw new HttpRequestException($"refused: {endpoint.Host} resolves to {why}", new ForbiddenAddressException(why));
            }
        }
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw new HttpRequestException($"could not connect to {endpoint.Host}:{endpoint.Port}", last);
    }

    /// <summary>Every address a host resolves to (a literal address is itself).</summary>
    public static async Task<IPAddress[]> Resolve(string host, CancellationToken ct) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
}

/// <summary>
/// The one way alerting calls a CRM URL: a named HttpClient on <see cref="GuardedConnect"/>, addresses checked at connect
/// time and redirects not followed. Subscriptions' endpoints take Alerting:Webhook:AllowPrivateAddresses; the operator's
/// deployment-wide URL (Alerting:Webhook:Url) may be private (a CRM inside the network, a stand-in on loopback), and
/// neither may ever reach the cloud metadata address.
/// </summary>
public static class CrmClients
{
    /// <summary>The operator's deployment-wide endpoint.</summary>
    public const string Deployment = "crm-deployment";

    /// <summary>Tenants' webhook subscriptions.</summary>
    public const string Subscribers = "crm-subscribers";

    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    public static IServiceCollection AddCrmClients(this IServiceCollection services)
    {
        services.AddHttpClient(Deployment).ConfigurePrimaryHttpMessageHandler(() => GuardedConnect.Handler(allowPrivate: true, ConnectTimeout));
        services.AddHttpClient(Subscribers).ConfigurePrimaryHttpMessageHandler(sp => GuardedConnect.Handler(
            sp.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowPrivateAddresses, ConnectTimeout));
        return services;
    }
}
