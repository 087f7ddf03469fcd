using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests;

/// <summary>The gateway alone (YARP) in front of upstreams that are down or hang: what a caller gets back.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class GatewayTests(ServersFixture servers) : IAsyncLifetime
{
    private TestPipeline _pipeline = null!;
    private TcpListener _silent = null!;

    public async Task InitializeAsync()
    {
        // Accepts connections and never answers: the effort cluster's one-second activity timeout must give 504.
        _silent = new TcpListener(IPAddress.Loopback, 0);
        _silent.Start();
        _pipeline = await TestPipeline.Create(await servers.Isolate("gateway-alone"), start: [LocalPipeline.Gateway],
            environment: new Dictionary<string, string?>
            {
                ["Gateway__Services__effort"] = $"http://127.0.0.1:{((IPEndPoint)_silent.LocalEndpoint).Port}/",
                ["ReverseProxy__Clusters__effort__HttpRequest__ActivityTimeout"] = "00:00:01",
            });
    }

    public async Task DisposeAsync()
    {
        await _pipeline.DisposeAsync();
        _silent.Stop();
    }

    [Fact]
    public async Task An_upstream_that_is_down_is_502_problem_details_naming_it()
    {
        using var http = _pipeline.Client();
        using var response = await http.GetAsync($"v1/customers/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("The identity service could not be reached.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_upstream_that_does_not_answer_in_time_is_504_problem_details_naming_it()
    {
        using var http = _pipeline.Client();
        var started = DateTimeOffset.UtcNow;
        using var response = await http.GetAsync($"v1/customers/{Guid.NewGuid()}/effort");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.InRange(DateTimeOffset.UtcNow - started, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(15));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("The effort service did not answer in time.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Without_a_valid_key_nothing_is_forwarded_and_the_answer_is_401()
    {
        using var http = _pipeline.Client("ck_not_a_key");
        using var response = await http.GetAsync($"v1/customers/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task A_path_no_route_matches_is_404_even_with_a_valid_key()
    {
        using var http = _pipeline.Client();
        using var response = await http.GetAsync("v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
