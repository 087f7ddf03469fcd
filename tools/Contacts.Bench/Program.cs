using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.Dev.Servers;
using RabbitMQ.Client;

// Gateway + ingestion throughput on this machine, beside the raw broker publish rate measured in the same run.
// Everything runs on loopback against throwaway servers; every loop is bounded. Usage: tools/bench [--events N]
var events = args.SkipWhile(a => a != "--events").Skip(1).FirstOrDefault() is { } n ? int.Parse(n) : 5000;
var dataRoot = Path.Combine(Path.GetTempPath(), "contacts-bench");
Directory.CreateDirectory(dataRoot);
Console.WriteLine($"machine: {Environment.ProcessorCount} cores; {events} events per measurement");

await using var postgres = await PostgresServer.StartAsync(dataRoot);
await using var rabbit = await RabbitMqServer.StartAsync(dataRoot);
await postgres.CreateDatabaseAsync("bench");
await rabbit.CreateVirtualHostAsync("bench");
var key = $"ck_{Guid.NewGuid():N}";
await using var pipeline = new LocalPipeline(new PipelineSettings
{
    Postgres = postgres.ConnectionString("bench"),
    RabbitMq = rabbit.AmqpUri("bench"),
    LogDirectory = Path.Combine(dataRoot, "logs"),
    ApiKeys = [("bench", key)],
    Environment = new Dictionary<string, string?>
    {
        ["Logging__LogLevel__Default"] = "Warning",
        ["Gateway__RateLimit__PermitsPerSecond"] = "1000000",
        ["Gateway__RateLimit__Burst"] = "1000000",
    },
});
await pipeline.StartAsync([LocalPipeline.Ingestion, LocalPipeline.Gateway]);

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = pipeline.GatewayAddress };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

object Event(string run, int i) => new
{
    source = "bench", sourceEventId = $"{run}-{i}", contactId = $"c-{i}", channel = i % 2 == 0 ? "voice" : "chat", kind = "message",
    occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1), identifiers = new { phone = $"+4477{i % 100_000_000:D8}", email = $"p{i}@example.test" },
    topic = "billing",
};

async Task<double> Measure(string name, int requests, int concurrency, int eventsPerRequest, Func<int, HttpContent> body, string path, HttpStatusCode ok)
{
    // Warm-up outside the clock: JIT, connection pools.
    for (var i = 0; i < 20; i++)
    {
        (await http.PostAsync(path, body(-1 - i))).EnsureSuccessStatusCode();
    }
    var clock = Stopwatch.StartNew();
    var failed = 0;
    await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
    {
        using var response = await http.PostAsync(path, body(i), ct);
        if (response.StatusCode != ok)
        {
            Interlocked.Increment(ref failed);
        }
    });
    var rate = requests * eventsPerRequest / clock.Elapsed.TotalSeconds;
    Console.WriteLine($"{name,-34} {requests * eventsPerRequest,7} events in {clock.Elapsed.TotalSeconds,6:0.00} s = {rate,8:0} events/s (concurrency {concurrency}, {failed} failed)");
    return rate;
}

var run = Guid.NewGuid().ToString("N")[..6];
await Measure("gateway+ingestion, single events", events, 32, 1,
    i => JsonContent(Event($"{run}-s", i)), "v1/events", HttpStatusCode.Accepted);
await Measure("gateway+ingestion, batches of 100", Math.Max(1, events / 100), 8, 100,
    i => JsonContent(new { events = Enumerable.Range(0, 100).Select(j => Event($"{run}-b{i}", j)) }), "v1/events/batch", HttpStatusCode.OK);

// The broker alone: 1 KiB persistent messages, publisher confirms, one connection, a few publishers in flight.
var factory = new ConnectionFactory { Uri = new Uri(rabbit.AmqpUri("bench")) };
await using (var connection = await factory.CreateConnectionAsync())
await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
{
    await channel.QueueDeclareAsync("bench-raw", durable: true, exclusive: false, autoDelete: false);
    var payload = Encoding.UTF8.GetBytes(new string('x', 1024));
    var properties = new BasicProperties { Persistent = true };
    var clock = Stopwatch.StartNew();
    const int inFlight = 64;
    for (var sent = 0; sent < events * 2; sent += inFlight)
    {
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => channel.BasicPublishAsync("", "bench-raw", false, properties, payload).AsTask()));
    }
    Console.WriteLine($"{"raw broker publish (1 KiB, confirmed)",-34} {events * 2,7} msgs   in {clock.Elapsed.TotalSeconds,6:0.00} s = {events * 2 / clock.Elapsed.TotalSeconds,8:0} msgs/s");
}
return 0;

static HttpContent JsonContent(object value) =>
    new StringContent(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");
