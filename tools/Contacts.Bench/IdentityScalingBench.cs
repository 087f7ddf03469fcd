extern alias identity;

using System.Diagnostics;
using Contacts.Contracts;
using Contacts.Dev.Servers;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Hosting;
using Contacts.Persistence;
using identity::Contacts.Identity.Stitching;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Contacts.Bench;

/// <summary>
/// Identity's cost against the size of the store: stitches the same mix of contacts (a third new people, a third
/// attaching to a known customer, a third merging two) into a store already holding 10,000 customers and into one holding
/// 100,000, through the real stitcher on a real PostgreSQL (in-process, several at once), and reports contacts/s and the
/// p99 time per contact for both, with the plan PostgreSQL uses to find an identifier. Contacts are stitched as identity's
/// batch consumer does, in sets (Stitcher.AttributeSet, 100 by default; --set 1 stitches each alone). Usage: tools/bench
/// --identity [--contacts N] [--concurrency C] [--set S]. The two lines should be within 20% of each other.
/// </summary>
public static class IdentityScalingBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var contacts = Option(args, "--contacts", 3000);
        var concurrency = Option(args, "--concurrency", 8);
        var set = Math.Max(1, Option(args, "--set", 100));
        var dataRoot = Path.Combine(Path.GetTempPath(), "contacts-bench-identity");
        Directory.CreateDirectory(dataRoot);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; {contacts} contacts per store, {concurrency} stitchers at once, sets of {set}");
        await using var postgres = await PostgresServer.StartAsync(dataRoot);

        var results = new List<(int Store, double Rate, double P99)>();
        foreach (var store in new[] { 10_000, 100_000 })
        {
            var name = $"identity_{store}_{Guid.NewGuid():N}"[..24];
            await postgres.CreateDatabaseAsync(name);
            var (rate, p99) = await Measure(postgres.ConnectionString(name), store, contacts, concurrency, set);
            results.Add((store, rate, p99));
        }
        foreach (var (store, rate, p99) in results)
        {
            Console.WriteLine($"identity stitching, store of {store,7:N0} customers: {rate,7:0} contacts/s, p99 {p99,6:0.0} ms per contact");
        }
        var (small, large) = (results[0], results[1]);
        Console.WriteLine($"100k vs 10k: throughput {100 * (large.Rate / small.Rate - 1):+0;-0}%, p99 {100 * (large.P99 / small.P99 - 1):+0;-0}%");
        return 0;
    }

    private static async Task<(double Rate, double P99)> Measure(string connectionString, int store, int contacts, int concurrency, int set)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["ConnectionStrings:postgres"] = connectionString;
        builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        builder.AddDatabase("identity", IdentitySchema.Migrations, CustomerEvents.Types);
        await using var app = builder.Build();
        await app.Services.EnsureSchemaAsync();
        var database = app.Services.GetRequiredService<Database>();

        var seed = Stopwatch.StartNew();
        await Seed(database.DataSource, store);
        Console.WriteLine($"seeded {store:N0} customers in {seed.Elapsed.TotalSeconds:0.0} s");
        await Explain(database.DataSource, store);

        var rules = IdentityRules.Default;
        var work = Workload(store, contacts).ToArray();
        // Warm-up outside the clock (JIT, pool), on contacts of their own.
        foreach (var contact in Workload(store, 50, "warm").Take(50))
        {
            await Stitch(database, contact, rules);
        }
        // A contact's time is its set's: from the start of its set's transaction to its commit.
        var latencies = new double[work.Length];
        var sets = work.Chunk(set).ToArray();
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < sets.Length; i = Interlocked.Increment(ref next))
            {
                var started = Stopwatch.GetTimestamp();
                await StitchSet(database, sets[i], rules);
                Array.Fill(latencies, Stopwatch.GetElapsedTime(started).TotalMilliseconds, i * set, sets[i].Length);
            }
        })));
        var rate = work.Length / clock.Elapsed.TotalSeconds;
        Array.Sort(latencies);
        return (rate, latencies[(int)Math.Ceiling(latencies.Length * 0.99) - 1]);
    }

    /// <summary>What the consumer does, minus the broker: inbox and stitch in one transaction, retried on a conflict.</summary>
    private static async Task Stitch(Database database, ContactEventReceived contact, IdentityRules rules)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await database.HandleOnce("bench", contact.Id, s => Stitcher.Attribute(s, contact, rules, CancellationToken.None), CancellationToken.None);
                return;
            }
            catch (Exception ex) when (RetryConventions.IsTransient(ex) && attempt < 50)
            {
                await Task.Delay(Random.Shared.Next(1, 10));
            }
        }
    }

    /// <summary>
    /// What the batch consumer does, minus the broker: the set in one transaction (inbox, AttributeSet), tried again on a
    /// conflict, then one contact at a time as the consumer falls back.
    /// </summary>
    private static async Task StitchSet(Database database, ContactEventReceived[] contacts, IdentityRules rules)
    {
        if (contacts.Length == 1)
        {
            await Stitch(database, contacts[0], rules);
            return;
        }
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                await database.HandleSet("bench", [.. contacts.Select(c => c.Id)],
                    (s, fresh) => Stitcher.AttributeSet(s, [.. fresh.Select(i => contacts[i])], _ => rules, CancellationToken.None), CancellationToken.None);
                return;
            }
            catch (Exception ex) when (RetryConventions.IsTransient(ex))
            {
                await Task.Delay(Random.Shared.Next(1, 10));
            }
        }
        foreach (var contact in contacts)
        {
            await Stitch(database, contact, rules);
        }
    }

    private static string Phone(int k) => $"+1415{k:D7}";
    private static string Email(int k) => $"p{k}@seed.example";

    /// <summary>
    /// Customer k holds a phone and an email when k % 4 is 0 or 1, only a phone when 2, only an email when 3: so a contact
    /// can attach to one (k % 4 == 0) or merge a phone-only and an email-only customer.
    /// </summary>
    private static IEnumerable<ContactEventReceived> Workload(int store, int contacts, string run = "bench")
    {
        var random = new Random(store + run.Length);
        for (var i = 0; i < contacts; i++)
        {
            var k = 4 * random.Next(1, store / 4 - 1);
            ContactIdentifier[] identifiers = (i % 3) switch
            {
                0 => [new("phone", $"+1416{i:D7}"), new("email", $"{run}{i}@new.example")],
                1 => [new("phone", Phone(k)), new("email", Email(k))],
                _ => [new("phone", Phone(k + 2)), new("email", Email(k + 3))],
            };
            var now = DateTimeOffset.UtcNow;
            yield return new ContactEventReceived(Guid.CreateVersion7(), "bench", "bench", $"{run}-{i}", $"{run}-{i}", "voice", "inbound", "ended",
                now, now, identifiers, null);
        }
    }

    /// <summary>A store as stitching would have left it: customers, streams and events, identifiers, timeline, history.</summary>
    private static async Task Seed(NpgsqlDataSource db, int store)
    {
        await using var cmd = db.CreateCommand($"""
            insert into customers (id, tenant_id, created_at)
                select md5('c' || k)::uuid, 'bench', now() - ({store} - k) * interval '1 second' from generate_series(1, {store}) k;
            insert into mt_streams (id, type, version, tenant_id) select md5('c' || k)::uuid, 'customer', 3, 'bench' from generate_series(1, {store}) k;
            insert into mt_events (seq_id, id, stream_id, version, type, data, tenant_id)
                select nextval('mt_events_sequence'), md5('e' || k || '-' || v)::uuid, md5('c' || k)::uuid, v,
                       (array['customer_created', 'identifier_linked', 'contact_attached'])[v], jsonb_build_object(), 'bench'
                from generate_series(1, {store}) k, generate_series(1, 3) v;
            insert into customer_identifiers (tenant_id, type, value, customer_id, origin_customer_id, linked_by_contact)
                select 'bench', 'phone', '+1415' || lpad(k::text, 7, '0'), md5('c' || k)::uuid, md5('c' || k)::uuid, md5('t' || k)::uuid
                from generate_series(1, {store}) k where k % 4 <> 3
                union all
                select 'bench', 'email', 'p' || k || '@seed.example', md5('c' || k)::uuid, md5('c' || k)::uuid, md5('t' || k)::uuid
                from generate_series(1, {store}) k where k % 4 <> 2;
            insert into timeline (contact_event_id, tenant_id, customer_id, origin_customer_id, source, source_event_id, contact_id, channel, direction, kind, occurred_at)
                select md5('t' || k)::uuid, 'bench', md5('c' || k)::uuid, md5('c' || k)::uuid, 'seed', 's' || k, 's' || k, 'voice', 'inbound', 'ended', now()
                from generate_series(1, {store}) k;
            insert into customer_history (tenant_id, customer_id, kind, contact_event_id, rule)
                select 'bench', md5('c' || k)::uuid, kind, md5('t' || k)::uuid, 'seed' from generate_series(1, {store}) k, unnest(array['created', 'attached']) kind;
            analyze;
            """);
        cmd.CommandTimeout = 600;
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Prints how PostgreSQL finds a contact's identifiers: an index scan whatever the store's size, never a sequential one.</summary>
    private static async Task Explain(NpgsqlDataSource db, int store)
    {
        await using var cmd = db.CreateCommand("""
            explain select i.type, i.value, i.customer_id from unnest(@types, @values) as k(type, value)
            join customer_identifiers i on i.tenant_id = @tenant and i.type = k.type and i.value = k.value and not i.shared
            """);
        cmd.Parameters.AddWithValue("types", new[] { "phone", "email" });
        cmd.Parameters.AddWithValue("values", new[] { Phone(store / 2), Email(store / 2) });
        cmd.Parameters.AddWithValue("tenant", "bench");
        var plan = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(0).Trim());
        }
        var scans = plan.Where(p => p.Contains("Scan", StringComparison.Ordinal)).Select(p => p.TrimStart('-', '>', ' ').Split("  ")[0]);
        Console.WriteLine($"identifier lookup plan: {string.Join("; ", scans)}");
    }

    private static int Option(string[] args, string name, int fallback) =>
        args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } value ? int.Parse(value) : fallback;
}
