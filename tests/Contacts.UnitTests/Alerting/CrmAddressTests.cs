using System.Net;
using System.Net.Sockets;
using Contacts.Alerting.Subscriptions;
using Contacts.Alerting.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace Contacts.UnitTests;

/// <summary>
/// The address forms a CRM URL can hide a private or metadata address behind, and the one guarded client every CRM call
/// goes through (the deployment-wide URL included).
/// </summary>
public sealed class CrmAddressTests
{
    [Theory]
    // IPv4-compatible IPv6 (::a.b.c.d), deprecated, reaches the IPv4 address inside.
    [InlineData("::127.0.0.1", AddressKind.Private)]
    [InlineData("::8.8.8.8", AddressKind.Private)]
    [InlineData("::169.254.169.254", AddressKind.Metadata)]
    [InlineData("::a9fe:a9fe", AddressKind.Metadata)]
    // Teredo (2001::/32): server and inverted client address inside.
    [InlineData("2001::1", AddressKind.Private)]
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", AddressKind.Private)]
    [InlineData("2001:0:a9fe:a9fe::1", AddressKind.Metadata)]
    [InlineData("2001:0:808:808:0:0:5601:5601", AddressKind.Metadata)]
    // 6to4 and NAT64 wrapping the metadata address are the metadata address.
    [InlineData("2002:a9fe:a9fe::1", AddressKind.Metadata)]
    [InlineData("2002:808:808::1", AddressKind.Private)]
    [InlineData("64:ff9b::a9fe:a9fe", AddressKind.Metadata)]
    // Benchmarking 198.18.0.0/15, and its neighbours.
    [InlineData("198.18.0.1", AddressKind.Private)]
    [InlineData("198.19.255.255", AddressKind.Private)]
    [InlineData("198.17.255.255", AddressKind.Public)]
    [InlineData("198.20.0.0", AddressKind.Public)]
    // Public IPv6 outside every wrapping prefix stays public.
    [InlineData("2001:4860:4860::8888", AddressKind.Public)]
    [InlineData("2606:4700:4700::1111", AddressKind.Public)]
    public void Given_an_address_that_wraps_or_neighbours_another_when_classified_then_it_is_judged_by_what_it_reaches(string address, AddressKind kind) =>
        Assert.Equal(kind, UrlSafety.Classify(IPAddress.Parse(address)));

    [Theory]
    // Octal, hex, short and single-number IPv4 spellings all name loopback or the metadata address.
    [InlineData("0177.0.0.1", "127.0.0.1")]
    [InlineData("0x7f.1", "127.0.0.1")]
    [InlineData("2130706433", "127.0.0.1")]
    [InlineData("127.1", "127.0.0.1")]
    [InlineData("0x7f000001", "127.0.0.1")]
    [InlineData("0251.0376.0251.0376", "169.254.169.254")]
    [InlineData("0xa9fea9fe", "169.254.169.254")]
    [InlineData("2852039166", "169.254.169.254")]
    public async Task Given_an_odd_ipv4_spelling_when_resolved_for_a_connection_then_it_is_the_address_it_spells(string host, string address)
    {
        var resolved = await GuardedConnect.Resolve(host, CancellationToken.None);
        Assert.Equal([IPAddress.Parse(address)], resolved);
        Assert.NotNull(UrlSafety.Refusal(resolved[0], allowPrivate: false));
    }

    [Theory]
    [InlineData("http://0177.0.0.1/crm", "must not point at 127.0.0.1 is a loopback, private or link-local address")]
    [InlineData("http://0x7f.1/crm", "must not point at 127.0.0.1 is a loopback, private or link-local address")]
    [InlineData("http://2130706433/crm", "must not point at 127.0.0.1 is a loopback, private or link-local address")]
    [InlineData("http://0xa9fea9fe/latest", "must not point at 169.254.169.254 is the cloud metadata address")]
    [InlineData("http://[::127.0.0.1]/crm", "must not point at ::127.0.0.1 is a loopback, private or link-local address")]
    [InlineData("http://[2001::1]/crm", "must not point at 2001::1 is a loopback, private or link-local address")]
    [InlineData("http://198.18.0.1/crm", "must not point at 198.18.0.1 is a loopback, private or link-local address")]
    public void Given_a_subscription_url_with_an_odd_address_spelling_when_checked_then_it_is_refused(string url, string error) =>
        Assert.Equal(error, UrlSafety.CheckUrl(url, allowPrivate: false));

    [Theory]
    [InlineData("http://[::169.254.169.254]/latest")]
    [InlineData("http://[2002:a9fe:a9fe::1]/latest")]
    [InlineData("http://0251.0376.0251.0376/latest")]
    public void Given_private_addresses_allowed_when_a_url_wraps_the_metadata_address_then_it_is_still_refused(string url) =>
        Assert.Contains("cloud metadata address", UrlSafety.CheckUrl(url, allowPrivate: true), StringComparison.Ordinal);

    private static IHttpClientFactory Clients(bool allowPrivate)
    {
        var services = new ServiceCollection();
        services.Configure<WebhookOptions>(o => o.AllowPrivateAddresses = allowPrivate);
        services.AddCrmClients();
        return services.BuildServiceProvider().GetRequiredService<IHttpClientFactory>();
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/")]
    [InlineData("http://[::ffff:169.254.169.254]/latest/meta-data/")]
    [InlineData("http://0xa9fea9fe/latest/meta-data/")]
    public async Task Given_the_deployment_wide_crm_client_when_the_url_is_the_metadata_address_then_no_connection_is_attempted(string url)
    {
        using var http = Clients(allowPrivate: false).CreateClient(CrmClients.Deployment);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => http.PostAsync(url, new StringContent("{}")));
        Assert.Contains(Chain(refused), e => e is ForbiddenAddressException f && f.Message.Contains("metadata", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_the_deployment_wide_crm_client_when_the_crm_is_on_loopback_and_redirects_then_it_is_called_once_and_the_redirect_not_followed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var served = 0;
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            Interlocked.Increment(ref served);
            var stream = client.GetStream();
            _ = await stream.ReadAsync(new byte[4096]);
            await stream.WriteAsync("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
        });
        using var http = Clients(allowPrivate: false).CreateClient(CrmClients.Deployment);
        using var response = await http.PostAsync($"http://127.0.0.1:{port}/crm", new StringContent("{}"));
        await serve;
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(1, served);
    }

    [Fact]
    public async Task Given_the_subscribers_client_with_private_addresses_refused_when_the_url_is_loopback_then_no_connection_is_made()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var http = Clients(allowPrivate: false).CreateClient(CrmClients.Subscribers);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => http.PostAsync($"http://0177.0.0.1:{port}/crm", new StringContent("{}")));
        Assert.Contains(Chain(refused), e => e is ForbiddenAddressException);
        Assert.False(listener.Pending());
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
        }
    }
}
