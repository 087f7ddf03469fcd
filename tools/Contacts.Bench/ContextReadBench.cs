using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Npgsql;

namespace Contacts.Bench;

/// <summary>
/// Latency of GET /v1/customers/{id}/context (identity + effort + alerting composed at the gateway), or of
/// GET /v1/customers/{id}/brief (identity + effort: the story told), with many customers
/// stored. Seeds `customers` customers of one tenant through the gateway's batch endpoint (one call each, with a transfer
/// and hold, so each has an open journey with drivers), waits until effort has scored all of them, then reads the
/// context of randomly chosen customers one at a time and reports percentiles. Needs the whole pipeline running.
/// On a loaded machine the pipeline cannot stitch 100,000 customers in minutes: with throughPipeline below customers,
/// only that many go through the pipeline and the rest are SQL copies of them (new ids and identifier values, same
/// shape of rows in identity's and effort's tables), which is what the read path sees either way.
/// </summary>
public static class ContextReadBench
{
    public sealed record Result(int Customers, int Reads, double P50, double P95, double P99, double Max, TimeSpan Seeding);

    public static async Task<Result> RunAsync(HttpClient http, string postgres, string tenant, int customers = 100_000, int reads = 2_000,
        TextWriter? log = null, int? throughPipeline = null, string read = "context")
    {
        log ??= Console.Out;
        var total = customers;
        customers = Math.Min(customers, throughPipeline ?? customers);
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
                    summary = "Charged twice for the October invoice; asked for a refund and was promised a callback by the billing team.",
                    outcome = "callback_promised", promise = new { kind = "callback", dueAt = at.AddHours(4) },
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
        log.WriteLine($"{scored} customers stored and scored through the pipeline in {seeding.Elapsed.TotalSeconds:0} s");
        if (total > customers)
        {
            var copies = (total - customers + customers - 1) / customers;
            await CopyCustomers(db, tenant, copies);
            log.WriteLine($"copied in SQL to {await Count(db, "select count(*) from effort.customer_effort where tenant_id = @t and merged_into is null", tenant)} customers");
            customers = total;
        }
        seeding.Stop();

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
            using var _ = await http.GetAsync($"v1/customers/{id}/{read}");
        }
        var times = new List<double>(ids.Count);
        foreach (var id in ids)
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync($"v1/customers/{id}/{read}");
            await response.Content.ReadAsByteArrayAsync();
            times.Add(clock.Elapsed.TotalMilliseconds);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"{read} of {id}: {(int)response.StatusCode}");
            }
        }
        times.Sort();
        double At(double q) => times[Math.Min(times.Count - 1, (int)(times.Count * q))];
        var result = new Result(customers, times.Count, At(0.50), At(0.95), At(0.99), times[^1], seeding.Elapsed);
        log.WriteLine($"{read} read, {customers} customers stored, {times.Count} sequential reads: p50 {result.P50:0.0} ms, " +
            $"p95 {result.P95:0.0} ms, p99 {result.P99:0.0} ms, max {result.Max:0.0} ms " +
            (read == "brief" ? "(target p95 <= 50 ms)" : "(target p99 <= 50 ms)"));
        return result;
    }

    private static async Task CopyCustomers(NpgsqlDataSource db, string tenant, int copies)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            create temp table copy_map as
                select c.id as seed, gen_random_uuid() as id, g as n
                from identity.customers c cross join generate_series(1, @copies) g
                where c.tenant_id = @t and c.merged_into is null;
            insert into identity.customers (id, tenant_id, created_at) select id, @t, now() from copy_map;
            insert into identity.customer_identifiers (tenant_id, type, value, customer_id, linked_at)
                select i.tenant_id, i.type, i.value || '-copy' || m.n, m.id, now()
                from identity.customer_identifiers i join copy_map m on m.seed = i.customer_id;
            insert into identity.timeline (contact_event_id, tenant_id, customer_id, source, source_event_id, contact_id, channel, direction, kind, occurred_at, topic)
                select gen_random_uuid(), t.tenant_id, m.id, t.source, t.source_event_id || '-copy' || m.n, t.contact_id || '-copy' || m.n,
                    t.channel, t.direction, t.kind, t.occurred_at, t.topic
                from identity.timeline t join copy_map m on m.seed = t.customer_id;
            insert into effort.customer_effort (customer_id, tenant_id, score, contacts_in_window, channels_in_window, drivers, contact_event_id,
                    scored_at, version, snapshot, predicted, journey_id)
                select m.id, e.tenant_id, e.score, e.contacts_in_window, e.channels_in_window, e.drivers, e.contact_event_id, e.scored_at,
                    e.version, e.snapshot, e.predicted, e.journey_id
                from effort.customer_effort e join copy_map m on m.seed = e.customer_id;
            insert into effort.journeys (customer_id, journey_id, tenant_id, topic, status, opened_at, last_at, score, predicted, ces_score)
                select m.id, j.journey_id, j.tenant_id, j.topic, j.status, j.opened_at, j.last_at, j.score, j.predicted, j.ces_score
                from effort.journeys j join copy_map m on m.seed = j.customer_id;
            analyze;
            """, connection);
        cmd.CommandTimeout = 600;
        cmd.Parameters.AddWithValue("t", tenant);
        cmd.Parameters.AddWithValue("copies", copies);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<long> Count(NpgsqlDataSource db, string sql, string tenant)
    {
        await using var cmd = db.CreateCommand(sql);
        cmd.Parameters.AddWithValue("t", tenant);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
