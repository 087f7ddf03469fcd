using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Npgsql;

namespace Contacts.Bench;

/// <summary>
/// Latency of GET /v1/customers/{id}/context (identity + effort + alerting composed at the gateway) with many customers
/// stored. Seeds `customers` customers of one tenant through the gateway's batch endpoint (one call each, with a transfer
/// and hold, so each has an open journey with drivers), waits until effort has scored all of them, then reads the
/// context of randomly chosen customers one at a time and reports percentiles. Needs the whole pipeline running.
/// </summary>
public static class ContextReadBench
{
    public sealed record Result(int Customers, int Reads, double P50, double P95, double P99, double Max, TimeSpan Seeding);

    public static async Task<Result> RunAsync(HttpClient http, string postgres, string tenant, int customers = 100_000, int reads = 2_000,
        TextWriter? log = null)
    {
        log ??= Console.Out;
        var run = Guid.NewGuid().ToString("N")[..6];
        var seeding = Stopwatch.StartNew();
        var at = DateTimeOffset.UtcNow.AddHours(-2);
        const int batchSize = 500;
        await Parallel.ForEachAsync(Enumerable.Range(0, (customers + batchSize - 1) / batchSize), new ParallelOptions { MaxDegreeOfParallelism = 4 },
            async (batch, ct) =>
            {
                var events = Enumerable.Range(batch * batchSize, Math.Min(batchSize, customers - batch * batchSize)).Select(i => new
                {
                    source = "ctxbench", sourceEventId = $"{run}-{i}", contactId = $"{run}-call-{i}", channel = "voice", direction = "inbound",
                    kind = "ended", occurredAt = at, identifiers = new { crmId = $"{run}-{i}" }, topic = "billing",
                    measures = new { holdSeconds = 200, queueWaitSeconds = 40, transfers = 1 },
                });
                for (var attempt = 0; ; attempt++)
                {
                    using var response = await http.PostAsJsonAsync("v1/events/batch", new { events }, ct);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        break;
                    }
                    if (attempt > 20)
                    {
                        throw new InvalidOperationException($"batch {batch}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                    }
                    await Task.Delay(500, ct);
                }
            });
        log.WriteLine($"pushed {customers} contacts in {seeding.Elapsed.TotalSeconds:0} s; waiting for identity and effort");

        await using var db = NpgsqlDataSource.Create(postgres);
        long scored = 0;
        var lastReport = Stopwatch.StartNew();
        while ((scored = await Count(db, "select count(*) from effort.customer_effort where tenant_id = @t and merged_into is null", tenant)) < customers)
        {
            if (lastReport.Elapsed > TimeSpan.FromSeconds(30))
            {
                log.WriteLine($"  {scored} of {customers} customers scored after {seeding.Elapsed.TotalSeconds:0} s");
                lastReport.Restart();
            }
            await Task.Delay(1000);
        }
        seeding.Stop();
        log.WriteLine($"{scored} customers stored and scored in {seeding.Elapsed.TotalSeconds:0} s");

        var ids = new List<Guid>();
        await using (var cmd = db.CreateCommand("select customer_id from effort.customer_effort where tenant_id = @t and merged_into is null order by random() limit @n"))
        {
            cmd.Parameters.AddWithValue("t", tenant);
            cmd.Parameters.AddWithValue("n", reads);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetGuid(0));
            }
        }
        foreach (var id in ids.Take(50)) // warm-up: JIT, connection pools
        {
            using var _ = await http.GetAsync($"v1/customers/{id}/context");
        }
        var times = new List<double>(ids.Count);
        foreach (var id in ids)
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync($"v1/customers/{id}/context");
            await response.Content.ReadAsByteArrayAsync();
            times.Add(clock.Elapsed.TotalMilliseconds);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"context of {id}: {(int)response.StatusCode}");
            }
        }
        times.Sort();
        double At(double q) => times[Math.Min(times.Count - 1, (int)(times.Count * q))];
        var result = new Result(customers, times.Count, At(0.50), At(0.95), At(0.99), times[^1], seeding.Elapsed);
        log.WriteLine($"context read, {customers} customers stored, {times.Count} sequential reads: p50 {result.P50:0.0} ms, " +
            $"p95 {result.P95:0.0} ms, p99 {result.P99:0.0} ms, max {result.Max:0.0} ms (target p99 <= 50 ms)");
        return result;
    }

    private static async Task<long> Count(NpgsqlDataSource db, string sql, string tenant)
    {
        await using var cmd = db.CreateCommand(sql);
        cmd.Parameters.AddWithValue("t", tenant);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
