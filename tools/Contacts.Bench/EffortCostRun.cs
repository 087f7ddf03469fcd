extern alias effort;

using System.Diagnostics;
using Contacts.Contracts;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Hosting;
using Contacts.Persistence;
using effort::Contacts.Effort.Journeys;
using effort::Contacts.Effort.Scoring;
using Microsoft.Extensions.DependencyInjection;

namespace Contacts.Bench;

/// <summary>
/// `tools/bench --effort` (EffortCostBench) runs this: the cost of scoring one new contact event for a customer with
/// N past contacts against one with 10, on the real PostgreSQL of ConnectionStrings:postgres (a tenant of its own), through
/// the consumer's own step for a batch (inbox, one load, score, one versioned write per table, outbox), here of one contact. Past contacts are in the
/// customer's stream, re-scored once by replay, as a settings change would; each sample alternates the two customers so load hits both alike.
/// </summary>
public static class EffortCostRun
{
    public static async Task<int> Run(string[] args, IServiceProvider services)
    {
        int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v) : fallback;
        var history = Arg("--history", 10_000);
        var samples = Arg("--samples", 300);
        await services.EnsureSchemaAsync();
        var database = services.GetRequiredService<Database>();
        var store = services.GetRequiredService<EffortStore>();
        var tenant = $"bench-{Guid.NewGuid():N}"[..20];
        var now = DateTimeOffset.UtcNow;

        var small = await Seed(database, store, tenant, 10, now);
        var large = await Seed(database, store, tenant, history, now);
        Console.WriteLine($"seeded: customer with 10 past contacts, customer with {history} past contacts (tenant {tenant})");

        var times = new Dictionary<Guid, List<double>> { [small] = [], [large] = [] };
        for (var i = -20; i < samples; i++) // the first 20 rounds warm up (JIT, pool) and are not counted
        {
            foreach (var customer in i % 2 == 0 ? new[] { small, large } : [large, small])
            {
                // Eight days apart: each new contact opens a journey, as a returning customer's would, so the open window stays alike.
                var contact = Attributed(tenant, customer, $"new-{i}", now.AddDays(-29 + (i + 20) * 8));
                var clock = Stopwatch.StartNew();
                await database.HandleSet("bench-cost", [Guid.NewGuid()],
                    (s, _) => ContactAttributedBatchConsumer.ScoreSet(s, store, [(contact, null)], CancellationToken.None), CancellationToken.None);
                if (i >= 0)
                {
                    times[customer].Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        }
        string Line(string name, List<double> t)
        {
            var sorted = t.Order().ToList();
            return $"{name}: mean {t.Average():0.00} ms, median {sorted[sorted.Count / 2]:0.00} ms, p95 {sorted[(int)(sorted.Count * 0.95)]:0.00} ms ({t.Count} events)";
        }
        Console.WriteLine(Line("10 past contacts", times[small]));
        Console.WriteLine(Line($"{history} past contacts", times[large]));
        var ratio = Median(times[large]) / Median(times[small]);
        Console.WriteLine($"median cost ratio {history}/10: {ratio:0.00} ({(ratio <= 1.2 ? "within" : "NOT within")} 20%)");
        return 0;
    }

    private static double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);

    private static ContactAttributed Attributed(string tenant, Guid customer, string contactId, DateTimeOffset at) =>
        new(Guid.CreateVersion7(), tenant, Guid.CreateVersion7(), customer, "voice", "ended", at, false, [],
            new ContactDetails("bench", contactId, "inbound", "current", null, null, at.AddMinutes(-5), at, new ContactMeasures(30, 200, 300, 1, false, false), null));

    /// <summary>A customer whose past contacts (5 per topic, an hour apart, all older than 30 days) are in its stream and replayed once.</summary>
    private static async Task<Guid> Seed(Database database, EffortStore store, string tenant, int contacts, DateTimeOffset now)
    {
        var customer = Guid.CreateVersion7();
        for (var batch = 0; batch < contacts; batch += 1000)
        {
            await database.InTransaction(async session =>
            {
                var received = new List<object>();
                for (var i = batch; i < Math.Min(contacts, batch + 1000); i++)
                {
                    var at = now.AddDays(-30).AddHours(-i);
                    received.Add(new ContactReceived(new ContactEvent(Guid.CreateVersion7(), "bench", $"past-{i}", i % 3 == 0 ? "chat" : "voice",
                        "inbound", "ended", at, $"topic-{i / 5}", Measures: new ContactMeasures(20, 60, 240, 0, false, i % 5 == 4))));
                }
                session.Events.AppendOrStartAtCommit<CustomerContacts>(customer, tenant,
                    await session.Events.StreamVersion(customer, tenant, CancellationToken.None), received);
            }, CancellationToken.None);
        }
        var settings = await database.InTransaction(async s => await store.Settings(s.Connection, s.Transaction, tenant, CancellationToken.None), CancellationToken.None);
        await database.InTransaction(s => EffortStore.Rebuild(s, tenant, customer, settings, CancellationToken.None), CancellationToken.None);
        return customer;
    }
}
