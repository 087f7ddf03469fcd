using System.Collections.Concurrent;
using System.Text.Json;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>One contact event of the workload and the person it belongs to.</summary>
public sealed record WorkloadEvent(int Person, int Step, object Payload);

/// <summary>
/// People who each call from a number, fill a web form with that number and an email address, then email: three
/// channels, linked only through shared identifiers, so every person must end as one customer with three contacts,
/// three scores and exactly one alert (70 points: two repeats and two channel switches).
/// </summary>
public sealed class Workload(int people, string run)
{
    public int People => people;
    public int Events => people * 3;

    public ConcurrentDictionary<Guid, WorkloadEvent> Accepted { get; } = new();

    public IEnumerable<WorkloadEvent> All()
    {
        var start = DateTimeOffset.UtcNow.AddDays(-3);
        for (var step = 0; step < 3; step++)
        {
            for (var p = 0; p < people; p++)
            {
                yield return Event(p, step, start.AddMinutes(p));
            }
        }
    }

    private WorkloadEvent Event(int person, int step, DateTimeOffset start)
    {
        var phone = $"+4477{person:D8}";
        var email = $"person{person}.{run}@example.test";
        var (channel, identifiers, at) = step switch
        {
            0 => ("voice", (object)new { phone }, start),
            1 => ("web_form", new { phone, email }, start.AddHours(2)),
            _ => ("email", new { email }, start.AddHours(26)),
        };
        var id = $"{run}-{person}-{step}";
        return new WorkloadEvent(person, step, new
        {
            source = "reliability", sourceEventId = id, contactId = id, channel, kind = "message", occurredAt = at, identifiers,
        });
    }

    /// <summary>Pushes events through the gateway with a few concurrent platform connections, each pausing between events if asked.</summary>
    public async Task Push(HttpClient http, IEnumerable<WorkloadEvent> events, int parallelism = 8, TimeSpan pause = default)
    {
        await Parallel.ForEachAsync(events, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (e, _) =>
        {
            var (id, _) = await TestPipeline.Push(http, e.Payload);
            Accepted[id] = e;
            await Task.Delay(pause);
        });
    }
}

/// <summary>What reached the end of the pipeline, compared with what should have, per contact and per person.</summary>
public sealed record Outcome(int Events, int Lost, int Duplicated, IReadOnlyList<string> Problems)
{
    public string Line(string scenario) => $"reliability: {scenario} events={Events} lost={Lost} duplicated={Duplicated}";

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

        var webhooks = pipeline.Crm.Received.ToList();
        var redelivered = webhooks.Count - webhooks.Select(w => w.Id).Distinct().Count();
        var alertsPerPerson = webhooks.DistinctBy(w => w.Id)
            .GroupBy(w => PersonOf(JsonDocument.Parse(w.Body).RootElement.GetProperty("data").GetProperty("customerId").GetGuid()))
            .ToDictionary(g => g.Key, g => g.Count());
        var alertsLost = Enumerable.Range(0, workload.People).Count(p => !alertsPerPerson.ContainsKey(p));
        var alertsDuplicated = alertsPerPerson.Values.Sum(n => n - 1) + redelivered;
        lost += alertsLost;
        duplicated += alertsDuplicated;
        if (alertsLost + alertsDuplicated > 0)
        {
            problems.Add($"CRM webhooks: {alertsLost} people without an alert, {alertsDuplicated} extra ({redelivered} redelivered)");
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

        return new Outcome(workload.Events, lost, duplicated, problems);
    }

    public bool Complete(Workload workload) => Lost == 0 && Problems.Count == 0;
}
