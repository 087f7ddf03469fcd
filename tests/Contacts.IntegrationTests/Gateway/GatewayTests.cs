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
    private const string KeyPrefix = "ck_"; // ApiKeyStore.Prefix
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
    public async Task A_configured_key_an_operator_revoked_stays_revoked_when_the_gateway_restarts()
    {
        using var admin = new HttpClient { BaseAddress = _pipeline.Pipeline.GatewayAddress };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _pipeline.Pipeline.Settings.OperatorKey);
        var keys = await admin.GetFromJsonAsync<JsonElement>($"admin/tenants/{TestPipeline.TenantA}/keys");
        var seeded = keys.EnumerateArray().Single().GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"admin/keys/{seeded}")).StatusCode);

        // Restarted with one more configured key, seeded after the revoked one: once it works, the seeder has passed them all.
        var witness = $"ck_{Guid.NewGuid():N}";
        var gateway = await _pipeline.Pipeline.Recreate(LocalPipeline.Gateway, 0, new Dictionary<string, string?>
        {
            ["Gateway__Keys__9__Tenant"] = TestPipeline.TenantB,
            ["Gateway__Keys__9__Key"] = witness,
        });
        await gateway.StartAsync();
        using var witnessClient = _pipeline.Client(witness);
        await TestPipeline.Eventually(async () =>
        {
            using var response = await witnessClient.GetAsync($"v1/customers/{Guid.NewGuid()}");
            return response.StatusCode != HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult("the configured keys were not seeded"));

        using var revoked = _pipeline.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
        var after = await admin.GetFromJsonAsync<JsonElement>($"admin/tenants/{TestPipeline.TenantA}/keys");
        Assert.NotEqual(JsonValueKind.Null, after[0].GetProperty("revokedAt").ValueKind);
    }

    [Fact]
    public async Task A_key_revoked_outside_this_gateway_stops_working_within_a_second_though_the_gateway_was_just_using_it()
    {
        // Keys the gateway has seen are kept in memory while it listens for changes; a revocation by another process
        // (the keys command, another gateway, an operator's SQL) must still end the key at once, not after a cache's age.
        using var http = _pipeline.Client(_pipeline.KeyB);
        for (var i = 0; i < 10; i++)
        {
            Assert.NotEqual(HttpStatusCode.Unauthorized, (await http.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
            await Task.Delay(100);
        }
        Assert.Equal(1, await _pipeline.Count("""
            with revoked as (update gateway.api_keys set revoked_at = now() where tenant_id = @tenant and revoked_at is null returning 1)
            select count(*) from revoked
            """, ("tenant", TestPipeline.TenantB)));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await TestPipeline.Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers/{Guid.NewGuid()}");
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(10), () => Task.FromResult("the revoked key still works"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"the revoked key worked for {watch.Elapsed.TotalMilliseconds:0} ms more");
        using var other = _pipeline.Client();
        Assert.NotEqual(HttpStatusCode.Unauthorized, (await other.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
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
    public async Task Given_a_key_created_through_the_admin_API_then_the_gateway_stores_only_its_SHA256_and_only_that_key_opens_its_tenant()
    {
        using var admin = new HttpClient { BaseAddress = _pipeline.Pipeline.GatewayAddress };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _pipeline.Pipeline.Settings.OperatorKey);
        var tenant = $"t{Guid.NewGuid():N}";
        using var response = await admin.PostAsJsonAsync($"admin/tenants/{tenant}/keys", new { name = "stored-form" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var (id, key) = (created.GetProperty("id").GetGuid(), created.GetProperty("key").GetString()!);

        // The row as PostgreSQL holds it: its hash is the key's SHA-256, computed here rather than by the gateway's code.
        var row = Assert.Single(await _pipeline.Query("select id, name, key_hash, row_to_json(k)::text from gateway.api_keys k where tenant_id = @tenant",
            r => (Id: r.GetGuid(0), Name: r.GetString(1), Hash: (byte[])r[2], Text: r.GetString(3)), ("tenant", tenant)));
        Assert.Equal((id, "stored-form"), (row.Id, row.Name));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)), row.Hash);

        // Nothing the gateway stores holds the key, nor any 12 characters of its random part: not the row, not another table.
        Assert.StartsWith(KeyPrefix, key);
        var body = key[KeyPrefix.Length..];
        var pieces = Enumerable.Range(0, body.Length - 11).Select(i => body.Substring(i, 12)).Prepend(key).ToArray();
        Assert.DoesNotContain(pieces, row.Text.Contains);
        var tables = await _pipeline.Query("select table_name from information_schema.tables where table_schema = 'gateway' and table_type = 'BASE TABLE'",
            r => r.GetString(0));
        Assert.Contains("api_keys", tables);
        foreach (var table in tables)
        {
            var holding = await _pipeline.Count($"""
                select count(*) from gateway."{table}" t where exists (select 1 from unnest(@pieces::text[]) p where strpos(row_to_json(t)::text, p) > 0)
                """, ("pieces", pieces));
            Assert.True(holding == 0, $"{holding} rows of gateway.{table} hold part of the key");
        }
        // Nor does the listing give it back.
        var listed = await admin.GetStringAsync($"admin/tenants/{tenant}/keys");
        Assert.Contains(id.ToString(), listed, StringComparison.Ordinal);
        Assert.DoesNotContain(pieces, listed.Contains);

        // The stored hash lets the key in (past the key check, to an identity that is not running: 502), and no other key.
        using var withKey = _pipeline.Client(key);
        Assert.Equal(HttpStatusCode.BadGateway, (await withKey.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
        using var oneOff = _pipeline.Client(key[..^1] + (key[^1] == 'A' ? 'B' : 'A'));
        Assert.Equal(HttpStatusCode.Unauthorized, (await oneOff.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
        using var stranger = _pipeline.Client($"{KeyPrefix}{Guid.NewGuid():N}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync($"v1/customers/{Guid.NewGuid()}")).StatusCode);
    }

    [Fact]
    public async Task Without_a_valid_key_nothing_is_forwarded_and_the_answer_is_401()
    {
        using var http = _pipeline.Client("ck_not_a_key");
        using var response = await http.GetAsync($"v1/customers/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    /// <summary>
    /// Every operation the served document lists (generated from the endpoints) is really routed: without a key it is
    /// 401 and nothing is forwarded; with one it reaches the service that documents it, seen here by which upstream the
    /// gateway says failed (effort hangs, the others are down); the gateway's own context reads identity first.
    /// </summary>
    [Fact]
    public async Task Every_documented_operation_is_routed_to_the_service_that_documents_it()
    {
        using var anonymous = new HttpClient { BaseAddress = _pipeline.Pipeline.GatewayAddress };
        var document = await anonymous.GetFromJsonAsync<JsonElement>("openapi/v1.json");
        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (Path: path.Name, Method: op.Name.ToUpperInvariant(),
                Service: op.Value.GetProperty("tags")[0].GetString()!)))
            .ToList();
        Assert.True(operations.Count(o => o.Path.StartsWith("/v1/", StringComparison.Ordinal)) >= 20, "the served document lists too few operations");

        using var keyed = _pipeline.Client();
        using var unkeyed = _pipeline.Client("ck_not_a_key");
        var wrong = new List<string>();
        foreach (var (path, method, service) in operations)
        {
            var url = path.Replace("{id}", Guid.NewGuid().ToString()).Replace("{platform}", "twilio").Replace("{tenant}", "acme").TrimStart('/');
            using (var refused = await unkeyed.SendAsync(new HttpRequestMessage(new HttpMethod(method), url)))
            {
                if (refused.StatusCode != HttpStatusCode.Unauthorized)
                {
                    wrong.Add($"{method} {path} without a valid key: {(int)refused.StatusCode}, not 401");
                }
            }
            if (!path.StartsWith("/v1/", StringComparison.Ordinal))
            {
                continue; // the admin API answers from the gateway's own database, with the operator key
            }
            var (status, detail) = service switch
            {
                "gateway" => (HttpStatusCode.BadGateway, "The identity service could not be read."),
                "effort" => (HttpStatusCode.GatewayTimeout, "The effort service did not answer in time."),
                _ => (HttpStatusCode.BadGateway, $"The {service} service could not be reached."),
            };
            using var forwarded = await keyed.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));
            var problem = forwarded.Content.Headers.ContentType?.MediaType == "application/problem+json"
                ? (await forwarded.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()
                : null;
            if (forwarded.StatusCode != status || problem != detail)
            {
                wrong.Add($"{method} {path} ({service}): {(int)forwarded.StatusCode} '{problem}', not {(int)status} '{detail}'");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public async Task A_path_no_route_matches_is_404_even_with_a_valid_key()
    {
        using var http = _pipeline.Client();
        using var response = await http.GetAsync("v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
