using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using FsCheck;
using FsCheck.Fluent;

namespace Contacts.IntegrationTests;

/// <summary>
/// Stitching is right whatever the order: generated contact sets with overlapping identifiers, delivered in a random
/// order through two stitchers at once on the real PostgreSQL, end in the partition a small reference model predicts:
/// the connected components where no limit is hit, and where one is, a partition that keeps every rule.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class StitchingPropertyTests(ServersFixture servers, ITestOutputHelper output) : IAsyncLifetime
{
    public const int Cases = 120;

    /// <summary>A small universe, so contacts overlap often: four phones, four emails, two CRM ids.</summary>
    private static readonly (string Type, string Value)[] Universe =
    [
        ("phone", "+14155550100"), ("phone", "+14155550101"), ("phone", "+14155550102"), ("phone", "+14155550103"),
        ("email", "a@prop.example"), ("email", "b@prop.example"), ("email", "c@prop.example"), ("email", "d@prop.example"),
        ("crm_id", "CRM-1"), ("crm_id", "CRM-2"),
    ];

    /// <summary>Limits low enough that some generated sets hit them and most do not.</summary>
    private static readonly IdentityRules Rules = new(IdentitySettings.Effective(new IdentitySettingsInput(
        Limits: new() { ["phone"] = 3, ["email"] = 3, ["crmId"] = 1 })));

    /// <summary>One generated case: contacts as sets of universe indexes, the delivery order, and which stitcher takes each.</summary>
    public sealed record Case(int[][] Contacts, int[] Order, bool[] OnSecond)
    {
        public override string ToString() =>
            $"contacts [{string.Join("; ", Contacts.Select(c => string.Join(",", c)))}] order [{string.Join(",", Order)}] second [{string.Join(",", OnSecond.Select(b => b ? 1 : 0))}]";
    }

    private MigratedDatabase _store = null!;

    public async Task InitializeAsync() => _store = await MigratedDatabase.Create(servers, "stitching-property", "identity",
        [.. SharedMigrations.All, .. IdentitySchema.Migrations], CustomerEvents.Types);

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private static Gen<Case> Generator =>
        from count in Gen.Choose(2, 10)
        from contacts in Gen.ArrayOf(Gen.Choose(0, Universe.Length - 1).ArrayOf(1).SelectMany(first =>
            Gen.Choose(0, 2).SelectMany(more => Gen.Choose(0, Universe.Length - 1).ArrayOf(more).Select(rest => first.Concat(rest).Distinct().ToArray()))), count)
        from order in Gen.Shuffle(Enumerable.Range(0, count).ToArray())
        from second in Gen.Elements(true, false).ArrayOf(count)
        select new Case(contacts, order, second);

    /// <summary>A fresh draw each run (its seed printed on failure by FsCheck); CONTACTS_PROPERTY_REPLAY="seed,gamma" replays one.</summary>
    private static Config Configured()
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(Cases).WithQuietOnSuccess(true);
        return Environment.GetEnvironmentVariable("CONTACTS_PROPERTY_REPLAY")?.Split(',') is [var seed, var gamma]
            ? config.WithReplay(ulong.Parse(seed), ulong.Parse(gamma))
            : config;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Two_stitchers_in_any_order_end_in_the_reference_partition(bool asSets)
    {
        var (unlimited, limited) = (0, 0);
        Prop.ForAll(Generator.ToArbitrary(), c =>
        {
            var hitsLimit = Check(c, asSets).GetAwaiter().GetResult();
            _ = hitsLimit ? limited++ : unlimited++;
            return true;
        }).Check(Configured());

        output.WriteLine($"{Cases} cases: {unlimited} within the limits (exact components), {limited} hitting a limit (rules)"
            + (asSets ? $"; {_setsCommitted} sets committed whole" : ""));
        Assert.True(!asSets || _setsCommitted > Cases, $"only {_setsCommitted} sets committed whole: the cases went one by one");
        Assert.Equal(Cases, unlimited + limited);
        Assert.True(unlimited > Cases / 10 && limited > Cases / 10, $"generated too few of one kind: {unlimited} within limits, {limited} over");
    }

    /// <summary>
    /// Runs one case in a tenant of its own and checks it; true when the reference components hit a limit. As sets, each
    /// stitcher takes its contacts in sets of one to four (Stitcher.AttributeSet), as identity's batch consumer does.
    /// </summary>
    private async Task<bool> Check(Case c, bool asSets)
    {
        var tenant = $"prop-{Guid.NewGuid():N}";
        var events = c.Contacts.Select((ids, i) => new ContactEventReceived(Guid.CreateVersion7(), tenant, "prop", $"e{i}", $"c{i}", "voice", "inbound",
            "ended", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, [.. ids.Select(x => new ContactIdentifier(Universe[x].Type, Universe[x].Value))], null)).ToArray();
        var queues = new[] { false, true }.Select(second => c.Order.Where(i => c.OnSecond[i] == second).Select(i => events[i]).ToList()).ToArray();
        await Task.WhenAll(queues.Select(queue => Task.Run(async () =>
        {
            var size = 1 + c.Order[0] % 4;
            for (var start = 0; start < queue.Count; start += asSets ? size : 1)
            {
                if (asSets)
                {
                    await StitchSet([.. queue.Skip(start).Take(size)]);
                }
                else
                {
                    await Stitch(queue[start]);
                }
            }
        })));

        // The reference: connected components of contacts through shared identifiers.
        var component = Components(c.Contacts);
        var hitsLimit = component.Distinct().Any(k => Universe.Select((u, x) => (u, x))
            .Where(p => c.Contacts.Where((_, i) => component[i] == k).Any(ids => ids.Contains(p.x)))
            .GroupBy(p => p.u.Type).Any(g => g.Count() > Rules.LimitOf(g.Key)));

        var customerOf = await _store.Query($"select contact_event_id, customer_id from timeline where tenant_id = '{tenant}'", r => (r.GetGuid(0), r.GetGuid(1)))
            .ContinueWith(t => t.Result.ToDictionary(x => x.Item1, x => x.Item2));
        var held = (await _store.Query($"select contact_event_id from held_contacts where tenant_id = '{tenant}'", r => r.GetGuid(0))).ToHashSet();
        var what = $"{c} (limit hit: {hitsLimit})";
        for (var i = 0; i < events.Length; i++)
        {
            Assert.True(customerOf.ContainsKey(events[i].Id) ^ held.Contains(events[i].Id), $"contact {i} attributed or held exactly once: {what}");
        }

        if (!hitsLimit)
        {
            Assert.Empty(held);
            for (var i = 0; i < events.Length; i++)
            {
                for (var j = 0; j < events.Length; j++)
                {
                    Assert.True(component[i] == component[j] == (customerOf[events[i].Id] == customerOf[events[j].Id]),
                        $"contacts {i} and {j}: same component must mean same customer: {what}");
                }
            }
            Assert.Empty(await _store.Query($"select 1 from customer_identifiers where tenant_id = '{tenant}' and shared", r => 1));
            return false;
        }

        // Over a limit: no customer spans two components, none holds more than its limits, and an identifier still
        // linked to one customer has every contact that used it (not kept aside) on that customer.
        for (var i = 0; i < events.Length; i++)
        {
            for (var j = 0; j < events.Length; j++)
            {
                if (customerOf.TryGetValue(events[i].Id, out var a) && customerOf.TryGetValue(events[j].Id, out var b) && a == b)
                {
                    Assert.True(component[i] == component[j], $"contacts {i} and {j} of different components on one customer: {what}");
                }
            }
        }
        var linked = await _store.Query($"select customer_id, type, value from customer_identifiers where tenant_id = '{tenant}' and not shared",
            r => (Customer: r.GetGuid(0), Type: r.GetString(1), Value: r.GetString(2)));
        foreach (var over in linked.GroupBy(l => (l.Customer, l.Type)).Where(g => g.Count() > Rules.LimitOf(g.Key.Type)))
        {
            Assert.Fail($"customer holds {over.Count()} {over.Key.Type} values, over the limit: {what}");
        }
        var uses = await _store.Query($"select contact_event_id, type, value from contact_identifiers where tenant_id = '{tenant}' and status <> 'kept'",
            r => (Contact: r.GetGuid(0), Type: r.GetString(1), Value: r.GetString(2)));
        foreach (var use in uses)
        {
            if (linked.FirstOrDefault(l => l.Type == use.Type && l.Value == use.Value) is { Customer: var owner } && owner != Guid.Empty)
            {
                Assert.True(customerOf.TryGetValue(use.Contact, out var on) && on == owner, $"a contact using {use.Type} is not on its customer: {what}");
            }
        }
        return true;
    }

    private Task Stitch(ContactEventReceived contact) =>
        _store.HandleWithRetries("property", contact.Id, s => Stitcher.Attribute(s, contact, Rules, CancellationToken.None));

    /// <summary>A set in one transaction, tried again while it races the other stitcher; then one by one, as the consumer falls back.</summary>
    private async Task StitchSet(IReadOnlyList<ContactEventReceived> contacts)
    {
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            try
            {
                await _store.Database.HandleSet("property", [.. contacts.Select(c => c.Id)],
                    (s, fresh) => Stitcher.AttributeSet(s, [.. fresh.Select(i => contacts[i])], _ => Rules, CancellationToken.None), CancellationToken.None);
                Interlocked.Increment(ref _setsCommitted);
                return;
            }
            catch (Exception ex) when (RetryConventions.IsTransient(ex))
            {
                await Task.Delay(Random.Shared.Next(1, 10));
            }
        }
        foreach (var contact in contacts)
        {
            await Stitch(contact);
        }
    }

    private int _setsCommitted;

    private static int[] Components(int[][] contacts)
    {
        var parent = Enumerable.Range(0, contacts.Length).ToArray();
        int Find(int x) => parent[x] == x ? x : parent[x] = Find(parent[x]);
        for (var i = 0; i < contacts.Length; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (contacts[i].Intersect(contacts[j]).Any())
                {
                    parent[Find(i)] = Find(j);
                }
            }
        }
        return [.. Enumerable.Range(0, contacts.Length).Select(Find)];
    }
}
