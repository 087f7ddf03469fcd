using System.Security.Cryptography;
using System.Text;
using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.Effort.Moments;

public sealed class MomentWatchOptions
{
    /// <summary>How often the watch looks for customers due: a promise is judged broken at most this long after it falls due.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Customers looked at per transaction.</summary>
    public int BatchSize { get; set; } = 200;
}

/// <summary>
/// Announces moments of misery and falls of the loyalty account below the floor (MomentOfMisery, LedgerBalanceLow, in one
/// MomentsAnnounced per tenant and pass, through the outbox), off the scoring path: every save puts its customers in moment_watch, due now; each pass claims the due
/// ones (skip locked, so several instances share them), works out their moments and account from every stored contact
/// event (MomentJudge, Ledger, MomentAnnouncer, all pure) and writes what it announced, in one transaction. A customer
/// counts as low already when one merged into it was (one person, one crossing). A customer
/// with a promise still open is due again when it falls due, so a callback never made is judged within the interval.
/// </summary>
internal sealed partial class MomentWatch(Database database, EffortStore store, MigrationState migrations, IOptions<MomentWatchOptions> options,
    TimeProvider clock, ILogger<MomentWatch> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await database.InTransaction(session => Pass(session, stoppingToken), stoppingToken) == options.Value.BatchSize)
                {
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, ex.Message);
            }
            await Task.Delay(options.Value.Interval, clock, stoppingToken);
        }
    }

    private sealed record Watched(string TenantId, Guid CustomerId, List<ContactEvent> Events, bool WasLow);

    /// <summary>One pass over the customers due: returns how many it claimed.</summary>
    private async Task<int> Pass(Session session, CancellationToken ct)
    {
        var watched = new Dictionary<Guid, Watched>();
        await using (var claim = session.Command("""
            select w.tenant_id, w.customer_id,
                coalesce(l.low, false) or exists (select 1 from customer_effort e join ledger_state m on m.customer_id = e.customer_id
                                                  where e.merged_into = w.customer_id and m.low)
            from moment_watch w left join ledger_state l on l.customer_id = w.customer_id
            where w.due_at <= now() order by w.due_at limit @n for update of w skip locked
            """))
        {
            claim.Parameters.AddWithValue("n", options.Value.BatchSize);
            await using var reader = await claim.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                watched[reader.GetGuid(1)] = new Watched(reader.GetString(0), reader.GetGuid(1), [], reader.GetBoolean(2));
            }
        }
        if (watched.Count == 0)
        {
            return 0;
        }
        var histories = await EffortStore.Histories(session.Connection, session.Transaction, [.. watched.Values.Select(w => (w.TenantId, w.CustomerId))], ct);
        foreach (var (id, history) in histories)
        {
            watched[id].Events.AddRange(history);
        }
        var tenants = new Dictionary<string, (EffortSettings Effort, IReadOnlyList<MomentSettingsSince> History)>();
        foreach (var tenant in watched.Values.Select(w => w.TenantId).Distinct())
        {
            tenants[tenant] = (await store.Settings(session.Connection, session.Transaction, tenant, ct), await EffortStore.MomentSettingsHistory(session.Connection, tenant, ct));
        }

        var now = clock.GetUtcNow();
        var decided = new List<(Watched Customer, StoryEvaluation Story, TimeSpan Window)>();
        foreach (var customer in watched.Values)
        {
            var (effort, history) = tenants[customer.TenantId];
            decided.Add((customer, CustomerStory.Evaluate(customer.Events, effort.Window, history, now), effort.Window));
        }
        var announced = await Announced(session, decided.SelectMany(d => d.Story.Moments.Where(m => m.Kind == MomentKinds.Misery)
            .Select(m => (d.Customer.TenantId, m.ContactKey))).ToList(), ct);

        var misery = new List<MomentOfMisery>();
        var fallen = new List<LedgerBalanceLow>();
        await using var batch = new NpgsqlBatch(session.Connection, session.Transaction);
        var (marks, states, nextDue, done) = (new List<(string, string, Guid)>(), new List<(string, Guid, int, bool)>(),
            new List<(Guid, DateTimeOffset)>(), new List<Guid>());
        foreach (var (customer, story, window) in decided)
        {
            var (account, floor) = (story.Account, story.Settings.Floor);
            var decision = MomentAnnouncer.Decide(story.Moments, account, floor, announced.TryGetValue(customer.TenantId, out var keys) ? keys : [],
                customer.WasLow, story.Promises, now, window);
            var byKey = story.Contacts.ToDictionary(c => c.Key);
            foreach (var moment in decision.Misery)
            {
                misery.Add(new MomentOfMisery(IdOf(customer.TenantId, moment.ContactKey), customer.TenantId, customer.CustomerId, moment.ContactKey,
                    byKey[moment.ContactKey].Events[0].EventId, moment.Reasons, moment.At, account.Balance, now));
                marks.Add((customer.TenantId, moment.ContactKey, customer.CustomerId));
            }
            if (decision.CrossedBelow is { } crossed)
            {
                fallen.Add(new LedgerBalanceLow(Guid.CreateVersion7(), customer.TenantId, customer.CustomerId, account.Balance, floor, crossed.ContactKey,
                    crossed.Reason, crossed.At, now));
            }
            if (customer.Events.Count > 0)
            {
                states.Add((customer.TenantId, customer.CustomerId, account.Balance, decision.Low));
            }
            if (decision.NextDue is { } due)
            {
                nextDue.Add((customer.CustomerId, due));
            }
            else
            {
                done.Add(customer.CustomerId);
            }
        }
        // One message per tenant for the whole pass.
        foreach (var tenant in misery.Select(m => m.TenantId).Concat(fallen.Select(f => f.TenantId)).Distinct())
        {
            var told = new MomentsAnnounced(Guid.CreateVersion7(), tenant, [.. misery.Where(m => m.TenantId == tenant)],
                [.. fallen.Where(f => f.TenantId == tenant)]);
            session.Publish(told, told.Id);
        }
        if (marks.Count > 0)
        {
            var mark = new NpgsqlBatchCommand("""
                insert into moment_announced (tenant_id, contact_key, customer_id) select * from unnest(@t, @k, @c) on conflict do nothing
                """);
            mark.Parameters.AddWithValue("t", marks.Select(m => m.Item1).ToArray());
            mark.Parameters.AddWithValue("k", marks.Select(m => m.Item2).ToArray());
            mark.Parameters.AddWithValue("c", marks.Select(m => m.Item3).ToArray());
            batch.BatchCommands.Add(mark);
        }
        if (states.Count > 0)
        {
            var state = new NpgsqlBatchCommand("""
                insert into ledger_state (tenant_id, customer_id, balance, low) select * from unnest(@t, @c, @b, @l)
                on conflict (customer_id) do update set balance = excluded.balance, low = excluded.low, updated_at = now()
                """);
            state.Parameters.AddWithValue("t", states.Select(s => s.Item1).ToArray());
            state.Parameters.AddWithValue("c", states.Select(s => s.Item2).ToArray());
            state.Parameters.AddWithValue("b", states.Select(s => s.Item3).ToArray());
            state.Parameters.AddWithValue("l", states.Select(s => s.Item4).ToArray());
            batch.BatchCommands.Add(state);
        }
        // Claimed rows are locked by this transaction: a save meanwhile waits and then moves due_at to now again.
        var again = new NpgsqlBatchCommand("""
            update moment_watch w set due_at = n.due from unnest(@c, @d) as n(customer, due) where w.customer_id = n.customer
            """);
        again.Parameters.AddWithValue("c", nextDue.Select(n => n.Item1).ToArray());
        again.Parameters.AddWithValue("d", nextDue.Select(n => n.Item2).ToArray());
        batch.BatchCommands.Add(again);
        var forget = new NpgsqlBatchCommand("delete from moment_watch where customer_id = any(@c)");
        forget.Parameters.AddWithValue("c", done.ToArray());
        batch.BatchCommands.Add(forget);
        await batch.ExecuteNonQueryAsync(ct);
        return watched.Count;
    }

    /// <summary>Of these (tenant, contact) pairs, the ones already announced, by tenant.</summary>
    private static async Task<Dictionary<string, HashSet<string>>> Announced(Session session, List<(string Tenant, string Key)> candidates, CancellationToken ct)
    {
        var found = new Dictionary<string, HashSet<string>>();
        if (candidates.Count == 0)
        {
            return found;
        }
        await using var cmd = session.Command("""
            select a.tenant_id, a.contact_key from moment_announced a join unnest(@t, @k) as c(tenant, key) on a.tenant_id = c.tenant and a.contact_key = c.key
            """);
        cmd.Parameters.AddWithValue("t", candidates.Select(c => c.Tenant).ToArray());
        cmd.Parameters.AddWithValue("k", candidates.Select(c => c.Key).ToArray());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            (found.TryGetValue(reader.GetString(0), out var keys) ? keys : found[reader.GetString(0)] = []).Add(reader.GetString(1));
        }
        return found;
    }

    /// <summary>The same contact's misery always under the same message id, so a repeat is the inbox's to drop.</summary>
    private static Guid IdOf(string tenant, string contactKey)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"moment.misery:{tenant}:{contactKey}"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80); // version 8: name-based, our own hash
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Moment watch pass failed: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
