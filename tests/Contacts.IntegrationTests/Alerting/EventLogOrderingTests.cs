using Contacts.Alerting.Alerts;
using Contacts.Alerting.Webhooks;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging.Persistence;

namespace Contacts.IntegrationTests;

/// <summary>
/// The tenant's event log against a real PostgreSQL: positions are taken at commit, so a reader paging by position while
/// many transactions log events at once neither skips an event nor reads one twice.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class EventLogOrderingTests(ServersFixture servers)
{
    [Fact]
    public async Task A_reader_paging_by_position_during_concurrent_commits_reads_every_event_once()
    {
        await using var store = await MigratedDatabase.Create(servers, "event_log_order", "alerting",
            [.. SharedMigrations.All, .. AlertingSchema.Migrations], [], maxPoolSize: 40);
        const int Writers = 16, TransactionsEach = 15, EventsEach = 3;
        var done = 0;

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var t = 0; t < TransactionsEach; t++)
            {
                await store.Database.InTransaction(async session =>
                {
                    for (var e = 0; e < EventsEach; e++)
                    {
                        EventLog.Append(session, "tenant-a", Guid.NewGuid(), "alert.raised", Guid.NewGuid(), DateTimeOffset.UtcNow, $"{{\"w\":{w}}}");
                    }
                    // Held open a moment after logging, so commits overlap and finish in another order than they logged.
                    await Task.Delay(Random.Shared.Next(0, 4));
                }, default);
            }
            Interlocked.Increment(ref done);
        })).ToList();

        // The feed's read: the next positions after the last one read, in position order.
        var read = new List<long>();
        long after = 0;
        while (true)
        {
            var finished = Volatile.Read(ref done) == Writers;
            var page = await store.DataSource.OpenConnectionAsync();
            await using (page)
            {
                var rows = await Dapper.SqlMapper.QueryAsync<long>(page,
                    "select position from event_log where tenant_id = 'tenant-a' and position is not null and position > @after order by position limit 7",
                    new { after });
                read.AddRange(rows);
                after = read.Count > 0 ? read[^1] : 0;
                if (finished && !rows.Any())
                {
                    break;
                }
            }
        }
        await Task.WhenAll(writers);

        Assert.Equal(Writers * TransactionsEach * EventsEach, read.Count);
        Assert.Equal(read.Count, read.Distinct().Count());
        await using var all = store.DataSource.CreateCommand("select count(*) from event_log where position is null");
        Assert.Equal(0L, await all.ExecuteScalarAsync());
    }
}
