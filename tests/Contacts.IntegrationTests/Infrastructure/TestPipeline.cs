using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Npgsql;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>
/// The whole pipeline as processes on an isolated database and virtual host, with a CRM webhook receiver, a broker tap
/// on EffortScored and HighEffortAlertRaised, and a gateway client for each of two tenants.
/// </summary>
public sealed class TestPipeline : IAsyncDisposable
{
    public const string TenantA = "tenant-a";
    public const string TenantB = "tenant-b";
    public const string TenantLimited = "tenant-limited";

    private TestPipeline(Isolation isolation, LocalPipeline pipeline, CrmWebhookReceiver crm, BrokerTap tap, string keyA, string keyB, string keyLimited)
    {
        KeyLimited = keyLimited;
        Isolation = isolation;
        Pipeline = pipeline;
        Crm = crm;
        Tap = tap;
        KeyA = keyA;
        KeyB = keyB;
    }

    public Isolation Isolation { get; }
    public LocalPipeline Pipeline { get; }
    public CrmWebhookReceiver Crm { get; }
    public BrokerTap Tap { get; }
    public string KeyA { get; }
    public string KeyB { get; }
    public string KeyLimited { get; }

    /// <summary>Creates the pipeline; starts the named services (all when null).</summary>
    public static async Task<TestPipeline> Create(Isolation isolation, IEnumerable<string>? start = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        Dictionary<string, IReadOnlyDictionary<string, string?>>? perService = null)
    {
        var secret = CrmWebhookReceiver.NewSecret();
        var crm = new CrmWebhookReceiver(secret);
        var tap = await BrokerTap.Start(isolation.RabbitMq, "EffortScored", "HighEffortAlertRaised");
        var (keyA, keyB, keyLimited) = ($"ck_{Guid.NewGuid():N}", $"ck_{Guid.NewGuid():N}", $"ck_{Guid.NewGuid():N}");
        var pipeline = new LocalPipeline(new PipelineSettings
        {
            Postgres = isolation.Postgres,
            RabbitMq = isolation.RabbitMq,
            RabbitMqManagement = isolation.RabbitMqServer.ManagementUriWithCredentials,
            LogDirectory = Path.Combine(ServersFixture.LogRoot, isolation.Name),
            ApiKeys = [(TenantA, keyA), (TenantB, keyB), (TenantLimited, keyLimited)],
            WebhookUrl = crm.Url.ToString(),
            WebhookSecret = secret,
            OperatorKey = $"op_{Guid.NewGuid():N}",
            Environment = environment ?? new Dictionary<string, string?>(),
        });
        var result = new TestPipeline(isolation, pipeline, crm, tap, keyA, keyB, keyLimited);
        foreach (var (service, env) in perService ?? [])
        {
            pipeline.Add(service, 0, env);
        }
        await pipeline.StartAsync(start);
        return result;
    }

    /// <summary>A client of the gateway (of another gateway instance, when there are several).</summary>
    public HttpClient Client(string? key = null, int gateway = 0)
    {
        var http = new HttpClient { BaseAddress = Pipeline[LocalPipeline.Gateway, gateway].BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key ?? KeyA);
        return http;
    }

    /// <summary>A tenant of the test's own (its settings, customers and subscriptions touch no other test), with a key from the operator API.</summary>
    public async Task<HttpClient> NewTenant(string name = "test") => (await NewNamedTenant(name)).Client;

    /// <summary>A new tenant with a key from the operator API: its client, and its id (for a test that reads its rows).</summary>
    public async Task<(HttpClient Client, string Tenant)> NewNamedTenant(string name = "test")
    {
        using var admin = new HttpClient { BaseAddress = Pipeline.GatewayAddress };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Pipeline.Settings.OperatorKey);
        var tenant = $"t{Guid.NewGuid():N}";
        using var created = await admin.PostAsJsonAsync($"admin/tenants/{tenant}/keys", new { name });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (Client((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()), tenant);
    }

    /// <summary>GET v1/customers{query} until it answers 200 with a customer the condition holds for.</summary>
    public static async Task<JsonElement> Customer(HttpClient http, string query, Func<JsonElement, bool>? until = null, TimeSpan? patience = null)
    {
        JsonElement customer = default;
        await Eventually(async () =>
        {
            using var response = await http.GetAsync($"v1/customers{query}");
            return response.StatusCode == HttpStatusCode.OK && (until ?? (_ => true))(customer = await response.Content.ReadFromJsonAsync<JsonElement>());
        }, patience ?? TimeSpan.FromSeconds(30), () => Task.FromResult($"customer{query} so far: {customer}"));
        return customer;
    }

    /// <summary>The longest Retry-After a push honours: a test waits for a restart, not for whatever a header asks.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Posts an event as a platform would, repeating it (safe: ingestion de-duplicates by source event id) only on what a
    /// retry can fix: a 503, which our services answer with Retry-After for a failure worth repeating (the header is
    /// honoured up to MaxRetryAfter), and a refused connection or a timeout, a restart in progress, whether the client
    /// meets it or the gateway does on its way to ingestion (IsRestartBehindTheGateway). Any other answer, a 500 above all,
    /// fails at once with its body: retrying it would hide an intermittent failure as a slow test.
    /// </summary>
    public static async Task<(Guid Id, bool Duplicate)> Push(HttpClient http, object contactEvent, TimeSpan? patience = null)
    {
        var within = patience ?? TimeSpan.FromSeconds(90);
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var wait = TimeSpan.FromMilliseconds(200);
            try
            {
                using var response = await http.PostAsJsonAsync("v1/events", contactEvent);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
                    return (accepted.GetProperty("id").GetGuid(), accepted.GetProperty("duplicate").GetBoolean());
                }
                var body = await response.Content.ReadAsStringAsync();
                var retryable = response.StatusCode == HttpStatusCode.ServiceUnavailable || IsRestartBehindTheGateway(response, body);
                if (!retryable || DateTimeOffset.UtcNow > deadline)
                {
                    throw new InvalidOperationException(
                        $"POST /v1/events answered {(int)response.StatusCode}{(retryable ? $" for {within.TotalSeconds:0} s" : "")}: {body}");
                }
                if (response.Headers.RetryAfter?.Delta is { } delta)
                {
                    wait = delta < MaxRetryAfter ? delta : MaxRetryAfter;
                }
            }
            catch (HttpRequestException) when (DateTimeOffset.UtcNow < deadline)
            {
                // Connection refused or reset: the gateway itself is restarting.
            }
            catch (TaskCanceledException) when (DateTimeOffset.UtcNow < deadline)
            {
                // The client's timeout: a process stopped mid-request.
            }
            await Task.Delay(wait);
        }
    }

    /// <summary>
    /// The gateway's own answer when ingestion refused its connection or did not answer in time (ProxySetup: 502 "Upstream
    /// unavailable", 504 "Upstream timeout", as ProblemDetails): the refused connection or timeout a restart of ingestion
    /// causes, seen through the proxy. A 502 or 504 that is not the gateway's ProblemDetails is not one of these.
    /// </summary>
    private static bool IsRestartBehindTheGateway(HttpResponseMessage response, string body)
    {
        if (response.StatusCode is not (HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout)
            || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return false;
        }
        try
        {
            using var problem = JsonDocument.Parse(body);
            return problem.RootElement.TryGetProperty("title", out var title)
                && title.GetString() is "Upstream unavailable" or "Upstream timeout";
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public async Task<List<T>> Query<T>(string sql, Func<NpgsqlDataReader, T> read, params (string Name, object Value)[] args)
    {
        await using var connection = new NpgsqlConnection(_harnessPostgres ??= HarnessConnectionString(Isolation.Postgres));
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        return await SqlRows.Read(cmd, read, args);
    }

    private string? _harnessPostgres;

    /// <summary>
    /// The harness's own reads wait longer than a service would: with two instances of every service on two cores, CI saw
    /// opening a connection take more than Npgsql's default 15 s once, and the test then failed before measuring anything.
    /// The harness observes; a slow observer must not be reported as a lost or duplicated alert, nor hide one.
    /// </summary>
    private static string HarnessConnectionString(string postgres) => new NpgsqlConnectionStringBuilder(postgres)
    {
        Timeout = 60,
        CommandTimeout = 120,
        ApplicationName = "contacts-test-harness",
    }.ConnectionString;

    public async Task<long> Count(string sql, params (string Name, object Value)[] args) =>
        (await Query(sql, r => r.GetInt64(0), args)).Single();

    /// <summary>Polls until the condition holds, or fails with what was last seen.</summary>
    public static async Task Eventually(Func<Task<bool>> condition, TimeSpan timeout, Func<Task<string>> describe)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                Assert.Fail($"Not reached within {timeout.TotalSeconds:0} s: {await describe()}");
            }
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Pipeline.DisposeAsync();
        await Tap.DisposeAsync();
        await Crm.DisposeAsync();
    }
}
