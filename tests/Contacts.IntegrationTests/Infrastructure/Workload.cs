using System.Collections.Concurrent;
using System.Text.Json;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>One contact event of the workload and the person it belongs to.</summary>
public sealed record WorkloadEvent(int Person, int Step, object Payload);

/// <summary>How each person's contacts arrive.</summary>
public enum WorkloadShape
{
    /// <summary>A call from a number, a web form with that number and an email address, then an email: three channels.</summary>
    ThreeChannels,

    /// <summary>
    /// Five contacts, each showing one or two of three identifiers (phone, email, social handle), in a shuffled order: the
    /// person starts as up to three customers that identity merges as the linking contacts (web form: phone + email;
    /// social: handle + phone) arrive. No part short of the whole can hold three contacts of its own except one, so at most
    /// one part crosses the alert threshold before the merges: exactly one alert per person is still the right answer.
    /// </summary>
    Piecemeal,
}

/// <summary>
/// People whose contacts are linked only through shared identifiers, so every person must end as one customer holding
/// all their contacts, with one score per contact and exactly one alert (the journeys cross the high-effort threshold).
/// </summary>
public sealed class Workload(int people, string run, WorkloadShape shape = WorkloadShape.ThreeChannels, int seed = 12)
{
    public int People => people;
    public int EventsPerPerson => shape == WorkloadShape.Piecemeal ? 5 : 3;
    public int Events => people * EventsPerPerson;

    public ConcurrentDictionary<Guid, WorkloadEvent> Accepted { get; } = new();

    public IEnumerable<WorkloadEvent> All()
    {
        var start = DateTimeOffset.UtcNow.AddDays(-3);
        var events = new List<WorkloadEvent>();
        for (var step = 0; step < EventsPerPerson; step++)
        {
            for (var p = 0; p < people; p++)
            {
                events.Add(Event(p, step, start.AddMinutes(p)));
            }
        }
        if (shape == WorkloadShape.Piecemeal)
        {
            // A fixed shuffle: reproducible, yet linking contacts arrive before, between and after the parts they link.
            new Random(seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(events));
        }
        return events;
    }

    private WorkloadEvent Event(int person, int step, DateTimeOffset start)
    {
        var phone = $"+4477{person:D8}";
        var email = $"person{person}.{run}@example.test";
        var handle = $"@person{person}.{run}";
        var (channel, identifiers, at) = (shape, step) switch
        {
            (WorkloadShape.ThreeChannels, 0) => ("voice", (object)new { phone }, start),
            (WorkloadShape.ThreeChannels, 1) => ("web_form", new { phone, email }, start.AddHours(2)),
            (WorkloadShape.ThreeChannels, _) => ("email", new { email }, start.AddHours(26)),
            (_, 0) => ("voice", new { phone }, start),
            (_, 1) => ("email", new { email }, start.AddHours(1)),
            (_, 2) => ("chat", new { handle }, start.AddHours(2)),
            (_, 3) => ("web_form", new { phone, email }, start.AddHours(3)),
            _ => ("social", new { handle, phone }, start.AddHours(4)),
        };
        var id = $"{run}-{person}-{step}";
        return new WorkloadEvent(person, step, new
        {
            source = "reliability", sourceEventId = id, contactId = id, channel, kind = "message", occurredAt = at, identifiers,
        });
    }

    /// <summary>Pushes events through the gateway with a few concurrent platform connections, each pausing between events if asked.</summary>
    public Task Push(HttpClient http, IEnumerable<WorkloadEvent> events, int parallelism = 8, TimeSpan pause = default) =>
        Push([http], events, parallelism, pause);

    /// <summary>Pushes events through several gateways in turn (one client each).</summary>
    public async Task Push(IReadOnlyList<HttpClient> clients, IEnumerable<WorkloadEvent> events, int parallelism = 8, TimeSpan pause = default)
    {
        var next = 0;
        await Parallel.ForEachAsync(events, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (e, _) =>
        {
            var http = clients[(Interlocked.Increment(ref next) & int.MaxValue) % clients.Count];
            var (id, _) = await TestPipeline.Push(http, e.Payload);
            Accepted[id] = e;
            await Task.Delay(pause);
        });
    }
}

/// <summary>What reached the end of the pipeline, compared with what should have, per contact and per person.</summary>
public sealed record Outcome(int Events, int Lost, int Duplicated, IReadOnlyList<string> Problems)
{
    public string Line(string scenario) =>
        $"reliability: {scenario} events={Events} lost={Lost} duplicated={Duplicated} redelivered={Redelivered} dead-lettered={DeadLettered} problems={Problems.Count}";

    /// <summary>The problems found, for an assert's message.</summary>
    public string Summary => Problems.Count == 0 ? "no problems found" : string.Join("; ", Problems);

    /// <summary>Messages in the pipeline's error queues at the end (set by the scenario, which knows what it expects there).</summary>
    public long DeadLettered { get; init; }

    public static async Task<Outcome> Measure(TestPipeline pipeline, Workload workload)
    {
        var problems = new List<string>();
        var lost = 0;
        var duplicated = 0;

        // Timeline: every accepted contact exactly once, each person's three contacts on one customer of their own.
        var timeline = await pipeline.Query("select contact_event_id, customer_id from identity.timeline",
            r => (Event: r.GetGuid(0), Customer: r.GetGuid(1)));
        var customerOf = timeline.ToDictionary(t => t.Event, t => t.Customer);
        var missing = workload.Accepted.Keys.Count(id => !customerOf.ContainsKey(id));
        lost += missing;
        if (missing > 0)
        {
            problems.Add($"{missing} contacts missing from the timeline");
        }
        var customersPerPerson = workload.Accepted.Where(a => customerOf.ContainsKey(a.Key))
            .GroupBy(a => a.Value.Person, a => customerOf[a.Key]).ToDictionary(g => g.Key, g => g.Distinct().Count());
        var split = customersPerPerson.Count(c => c.Value > 1);
        if (split > 0)
        {
            problems.Add($"{split} people split over several customers");
        }
        var personOfCustomer = workload.Accepted.Where(a => customerOf.ContainsKey(a.Key))
            .GroupBy(a => customerOf[a.Key], a => a.Value.Person).ToDictionary(g => g.Key, g => g.Distinct().ToList());
        var mixed = personOfCustomer.Count(c => c.Value.Count > 1);
        if (mixed > 0)
        {
            problems.Add($"{mixed} customers hold several people");
        }

        // Scores: one EffortScored per contact (a second one with another MessageId is a duplicate effect).
        var scores = pipeline.Tap.Of("EffortScored")
            .GroupBy(m => m.Message.GetProperty("contactEventId").GetGuid())
            .ToDictionary(g => g.Key, g => g.Select(m => m.MessageId).Distinct().Count());
        var scoresLost = workload.Accepted.Keys.Count(id => !scores.ContainsKey(id));
        var scoresDuplicated = scores.Values.Sum(n => n - 1);
        lost += scoresLost;
        duplicated += scoresDuplicated;
        if (scoresLost + scoresDuplicated > 0)
        {
            problems.Add($"EffortScored: {scoresLost} missing, {scoresDuplicated} extra");
        }

        // Alerts: each person exactly one webhook at the CRM (and no webhook delivered twice), and one on the broker.
        var merged = (await pipeline.Query("select id, merged_into from identity.customers where merged_into is not null",
            r => (r.GetGuid(0), r.GetGuid(1)))).ToDictionary(m => m.Item1, m => m.Item2);
        Guid Survivor(Guid id)
        {
            while (merged.TryGetValue(id, out var next))
            {
                id = next;
            }
            return id;
        }
        int PersonOf(Guid customer) =>
            personOfCustomer.TryGetValue(Survivor(customer), out var people) ? people[0] : -1;

        // A webhook POSTed again with the same webhook-id and body is a redelivery, which the Standard Webhooks spec allows
        // (a sender that died before recording the answer must retry) and a CRM de-duplicates: reported, not a duplicate.
        // A second alert id for one person is a duplicate effect.
        var webhooks = pipeline.Crm.Received.ToList();
        var firstById = webhooks.GroupBy(w => w.Id).ToDictionary(g => g.Key, g => g.First());
        var redelivered = webhooks.Count - firstById.Count;
        var altered = webhooks.Count(w => w.Body != firstById[w.Id].Body);
        if (altered > 0)
        {
            problems.Add($"{altered} webhooks redelivered under an earlier webhook-id with a different body");
        }
        var alertsPerPerson = firstById.Values
            .Select(w => JsonDocument.Parse(w.Body).RootElement.GetProperty("data"))
            .GroupBy(d => PersonOf(d.GetProperty("customerId").GetGuid()), d => d.GetProperty("alertId").GetGuid())
            .ToDictionary(g => g.Key, g => g.Distinct().Count());
        var alertsLost = Enumerable.Range(0, workload.People).Count(p => !alertsPerPerson.ContainsKey(p));
        var alertsDuplicated = alertsPerPerson.Values.Sum(n => n - 1) + altered;
        lost += alertsLost;
        duplicated += alertsDuplicated;
        if (alertsLost + alertsDuplicated > 0)
        {
            problems.Add($"CRM webhooks: {alertsLost} people without an alert, {alertsDuplicated} extra alerts");
        }
        if (webhooks.Any(w => !w.SignatureValid))
        {
            problems.Add("a webhook signature did not verify");
        }
        var brokerAlerts = pipeline.Tap.Of("HighEffortAlertRaised").DistinctBy(m => m.MessageId)
            .GroupBy(m => PersonOf(m.Message.GetProperty("customerId").GetGuid())).ToDictionary(g => g.Key, g => g.Count());
        var brokerLost = Enumerable.Range(0, workload.People).Count(p => !brokerAlerts.ContainsKey(p));
        var brokerDuplicated = brokerAlerts.Values.Sum(n => n - 1);
        lost += brokerLost;
        duplicated += brokerDuplicated;
        if (brokerLost + brokerDuplicated > 0)
        {
            problems.Add($"HighEffortAlertRaised: {brokerLost} people without one, {brokerDuplicated} extra");
        }

        List<(int Person, List<Guid> Customers)> People(Func<int, bool> which) => [.. Enumerable.Range(0, workload.People).Where(which)
            .Select(p => (Person: p, Customers: workload.Accepted.Where(a => a.Value.Person == p && customerOf.ContainsKey(a.Key))
                .Select(a => customerOf[a.Key]).Distinct().ToList()))];
        var unalerted = People(p => !alertsPerPerson.ContainsKey(p) || !brokerAlerts.ContainsKey(p));
        var alertedTwice = People(p => alertsPerPerson.GetValueOrDefault(p) > 1 || brokerAlerts.GetValueOrDefault(p) > 1);
        return new Outcome(workload.Events, lost, duplicated, problems) { Redelivered = redelivered, Unalerted = unalerted, AlertedTwice = alertedTwice };
    }

    /// <summary>Webhooks POSTed again under a webhook-id already received (allowed, counted apart).</summary>
    public int Redelivered { get; init; }

    /// <summary>People missing an alert (at the CRM or on the broker), with the customers their contacts are on.</summary>
    public IReadOnlyList<(int Person, List<Guid> Customers)> Unalerted { get; init; } = [];

    /// <summary>People who got more than one alert, with the customers their contacts ended on (for the diagnosis).</summary>
    public IReadOnlyList<(int Person, List<Guid> Customers)> AlertedTwice { get; init; } = [];

    public bool Complete(Workload workload) => Lost == 0 && Problems.Count == 0;
}
