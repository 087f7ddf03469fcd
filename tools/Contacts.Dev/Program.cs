using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using Contacts.Dev.Dashboard;
using Contacts.Dev.Pipeline;
using Contacts.Dev.Servers;

// `tools/run` lands here: brings the whole pipeline up on this machine, prints how to reach it, and stops it on Ctrl-C.
if (args is ["smoke", ..])
{
    return await Contacts.Dev.Smoke.ComposeSmoke.Run(args[1..]);
}
var demo = args.Contains("--demo");
var withDashboard = !args.Contains("--no-dashboard");
var port = args.SkipWhile(a => a != "--port").Skip(1).FirstOrDefault() is { } p ? int.Parse(p) : (int?)null;
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        usage: tools/run [--demo] [--port N] [--no-dashboard]
          --demo          push a sample journey (call, web form, email) and show the stitched customer and the alert
          --port N        the gateway's port (default: a free one)
          --no-dashboard  leave out the Aspire dashboard (by default it runs on loopback and every service exports
                          its traces, metrics and logs to it)
        environment: CONTACTS_POSTGRES (Npgsql connection string), CONTACTS_RABBITMQ (amqp URI) and
          CONTACTS_RABBITMQ_MANAGEMENT (http URI) use servers of your own instead of starting local ones;
          CONTACTS_WEBHOOK_URL / CONTACTS_WEBHOOK_SECRET set a deployment-wide CRM endpoint in configuration
          (every tenant's alerts) instead of subscribing the stand-in CRM through the API.
        """);
    return 0;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

var root = LocalPipeline.RepositoryRoot;
var dataRoot = Path.Combine(root, ".local");
RunLock runLock;
try
{
    runLock = RunLock.Acquire(dataRoot);
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 1;
}
using var runLockHeld = runLock;
Leftovers.StopOrphanedServices(root);
Console.WriteLine(withDashboard ? "Starting PostgreSQL, RabbitMQ and the Aspire dashboard..." : "Starting PostgreSQL and RabbitMQ...");
var postgresTask = Environment.GetEnvironmentVariable("CONTACTS_POSTGRES") is { Length: > 0 } pg
    ? Task.FromResult(PostgresServer.External(pg))
    : PostgresServer.StartAsync(dataRoot, durable: true, stop.Token);
var rabbitTask = Environment.GetEnvironmentVariable("CONTACTS_RABBITMQ") is { Length: > 0 } amqp
    ? Task.FromResult(RabbitMqServer.External(amqp, Environment.GetEnvironmentVariable("CONTACTS_RABBITMQ_MANAGEMENT") ?? ""))
    : RabbitMqServer.StartAsync(dataRoot, durable: true, stop.Token);
var dashboardTask = withDashboard ? StartDashboard() : Task.FromResult<AspireDashboard?>(null);
async Task<AspireDashboard?> StartDashboard() => await AspireDashboard.StartAsync(Path.Combine(dataRoot, "logs"), stop.Token);
PostgresServer startedPostgres;
RabbitMqServer startedRabbit;
AspireDashboard? startedDashboard;
try
{
    // If one fails to start, the others are stopped too: nothing of this run is left running.
    (startedPostgres, startedRabbit, startedDashboard) = await StartTogether.All(postgresTask, rabbitTask, dashboardTask);
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or OperationCanceledException)
{
    Console.Error.WriteLine(ex is OperationCanceledException ? "Stopped while starting." : $"Could not start: {ex.Message}");
    return 1;
}
await using var postgres = startedPostgres;
await using var rabbit = startedRabbit;
await using var dashboard = startedDashboard;
await postgres.CreateDatabaseAsync("contacts", stop.Token);
await rabbit.CreateVirtualHostAsync("contacts", stop.Token);

// CONTACTS_WEBHOOK_URL: the operator's deployment-wide endpoint (configuration, every tenant's alerts). Otherwise a stand-in
// CRM on loopback, subscribed through the API once the pipeline is up, as a CRM would (its secret comes from that answer).
var deploymentWebhook = Environment.GetEnvironmentVariable("CONTACTS_WEBHOOK_URL") is { Length: > 0 } configured ? configured : null;
var secret = Environment.GetEnvironmentVariable("CONTACTS_WEBHOOK_SECRET") is { Length: > 0 } s ? s : CrmWebhookReceiver.NewSecret();
await using var crm = deploymentWebhook is not null
    ? null
    : new CrmWebhookReceiver(secret, w => Console.WriteLine(
        $"\n[CRM] webhook {w.Id} received, signature {(w.SignatureValid ? "valid" : "INVALID")}:\n{Pretty(w.Body)}\n{TraceLine(w)}"));

var operatorKey = "op_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
var apiKey = "ck_demo_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
await using var pipeline = new LocalPipeline(new PipelineSettings
{
    Postgres = postgres.ConnectionString("contacts"),
    RabbitMq = rabbit.AmqpUri("contacts"),
    RabbitMqManagement = rabbit.ManagementUriWithCredentials,
    LogDirectory = Path.Combine(dataRoot, "logs"),
    ApiKeys = [("demo", apiKey)],
    WebhookUrl = deploymentWebhook,
    WebhookSecret = deploymentWebhook is null ? null : secret,
    GatewayPort = port,
    OperatorKey = operatorKey,
    // The stand-in CRM listens on loopback: an address subscriptions may only call when the operator allows private ones.
    Environment = new Dictionary<string, string?>(dashboard?.ExporterEnvironment ?? new Dictionary<string, string?>())
    {
        ["Alerting__Webhook__AllowPrivateAddresses"] = "true",
    },
});
Console.WriteLine("Starting ingestion, identity, effort, alerting and the gateway...");
try
{
    await pipeline.StartAsync(ct: stop.Token);
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or OperationCanceledException)
{
    // Returning disposes the pipeline and the servers above: nothing this run started is left running.
    Console.Error.WriteLine(ex is OperationCanceledException ? "Stopped while starting." : $"Could not start: {ex.Message}");
    return 1;
}

var gateway = pipeline.GatewayAddress;
var crmLine = $"{deploymentWebhook} (deployment-wide, from CONTACTS_WEBHOOK_URL; secret {secret})";
if (crm is not null)
{
    try
    {
        var subscription = await StandInCrm.Subscribe(gateway, apiKey, crm, stop.Token);
        crmLine = $"{crm.Url} (subscription {subscription} of tenant demo; secret {crm.Secret})";
    }
    catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException)
    {
        Console.Error.WriteLine($"Could not subscribe the stand-in CRM: {ex.Message}");
        return 1;
    }
}
var sample = JsonSerializer.Serialize(new
{
    source = "web", sourceEventId = "e-1", contactId = "c-1", channel = "chat", kind = "message",
    occurredAt = DateTimeOffset.UtcNow, identifiers = new { email = "someone@example.com" },
});
Console.WriteLine($$"""

    Contacts is running.
      gateway:       {{gateway}}
      tenant:        demo
      API key:       {{apiKey}}
      operator key:  {{operatorKey}}  (for /admin: keys per tenant)
      CRM webhook:   {{crmLine}}
      service logs:  {{Path.Combine(dataRoot, "logs")}}
    {{(dashboard is null ? "  (no dashboard: started with --no-dashboard)" : $"  dashboard: {dashboard.Url}  (traces, metrics and logs of every service)")}}

    Push a contact event:
      curl -X POST {{gateway}}v1/events -H 'Authorization: Bearer {{apiKey}}' -H 'Content-Type: application/json' \
        -d '{{sample}}'
    Read a customer:
      curl '{{gateway}}v1/customers?email=someone@example.com' -H 'Authorization: Bearer {{apiKey}}'
    Subscribe your own endpoint to alerts (its signing secret is in the answer):
      curl -X POST {{gateway}}v1/subscriptions -H 'Authorization: Bearer {{apiKey}}' -H 'Content-Type: application/json' \
        -d '{"url":"https://crm.example.com/hooks/alerts","events":["alert.raised","alert.resolved"]}'
    Create a key for another tenant:
      curl -X POST {{gateway}}admin/tenants/acme/keys -H 'Authorization: Bearer {{operatorKey}}' -H 'Content-Type: application/json' -d '{"name":"acme-genesys"}'
    OpenAPI for the whole public surface: {{gateway}}openapi/v1.json

    Ctrl-C stops everything.
    """);

if (demo)
{
    await RunDemo(gateway, apiKey, stop.Token);
}

try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}
Console.WriteLine("Stopping...");
return 0;

static async Task RunDemo(Uri gateway, string apiKey, CancellationToken ct)
{
    using var http = new HttpClient { BaseAddress = gateway };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    // A new person each run, so a second run on the same data shows a fresh journey rather than joining the last one.
    var phone = $"+44 20 7946 {Random.Shared.Next(1000, 9999)}";
    var email = $"Ana.Lima.{Random.Shared.Next(1000, 9999)}@example.com";
    Console.WriteLine($"Demo: a call from {phone}, a web form with that number and {email}, then an email from that address.");
    var ids = new List<string>();
    foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, phone, email, brokenPromise: true))
    {
        var response = await http.PostAsJsonAsync("v1/events", e, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Console.WriteLine($"  POST /v1/events -> {(int)response.StatusCode} {body}");
        ids.Add(JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!);
    }
    var query = $"v1/customers?email={Uri.EscapeDataString(email)}";
    for (var i = 0; i < 300 && !ct.IsCancellationRequested; i++)
    {
        var response = await http.GetAsync(query, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.IsSuccessStatusCode && ids.All(id => body.Contains(id, StringComparison.Ordinal)))
        {
            Console.WriteLine($"\nThe stitched customer, GET /{query}:\n{Pretty(body)}");
            await PrintBrief(http, JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!, ct);
            Console.WriteLine("The CRM's webhooks with the high-effort and promise-broken alerts follow as soon as alerting delivers them.");
            return;
        }
        await Task.Delay(100, ct);
    }
    Console.WriteLine("The demo customer did not show its three contacts within 30 s; see the service logs.");
}

// The story the next agent reads: once effort has told all three contacts.
static async Task PrintBrief(HttpClient http, string customerId, CancellationToken ct)
{
    var path = $"v1/customers/{customerId}/brief";
    for (var i = 0; i < 300 && !ct.IsCancellationRequested; i++)
    {
        var response = await http.GetAsync(path, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.IsSuccessStatusCode && JsonDocument.Parse(body).RootElement.GetProperty("journey") is { ValueKind: JsonValueKind.Object } journey
            && journey.GetProperty("contacts").GetArrayLength() == 3)
        {
            Console.WriteLine($"\nWhat the next agent reads, GET /{path}:\n{Pretty(body)}");
            // Each contact was misery (a callback never made, then two unresolved repeats): the account shows the withdrawals.
            var ledger = await http.GetStringAsync($"v1/customers/{customerId}/ledger", ct);
            Console.WriteLine($"\nThe customer's loyalty account, GET /v1/customers/{customerId}/ledger:\n{Pretty(ledger)}");
            return;
        }
        await Task.Delay(100, ct);
    }
    Console.WriteLine($"The brief did not tell the three contacts within 30 s; see GET /{path}.");
}

// Where the alert's trace is on screen: the CRM received its id in traceparent (00-traceid-spanid-flags).
string TraceLine(ReceivedWebhook webhook) =>
    dashboard is not null && webhook.Traceparent?.Split('-') is [_, var traceId, _, _]
        ? $"Its trace, from the gateway to this webhook: {dashboard.TracePage(traceId)}\n"
        : "";

static string Pretty(string json)
{
    try
    {
        return JsonSerializer.Serialize(JsonDocument.Parse(json),
            new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
    catch (JsonException)
    {
        return json;
    }
}
