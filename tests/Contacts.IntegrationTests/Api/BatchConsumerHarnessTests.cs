using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging.Persistence;
using Dapper;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Contacts.IntegrationTests;

/// <summary>
/// The batch consumers of identity and effort on MassTransit's test harness over their services' real schemas: what a
/// batch of contacts does to the tables and the outbox, what its redelivery does (nothing: the inbox keys on each item),
/// and where a bad item goes (back to the queue alone, through the outbox, while the rest of its batch commits).
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class BatchConsumerHarnessTests(ServersFixture servers)
{
    [Fact]
    public async Task Identitys_batch_stitches_its_good_contacts_once_sends_a_bad_one_back_alone_and_a_redelivery_changes_nothing()
    {
        // Given identity's schema, and a batch of three contacts: two sharing an email, and one without a tenant.
        await using var store = await MigratedDatabase.Create(servers, "harness_identity_batch", "identity",
            [.. SharedMigrations.All, .. IdentitySchema.Migrations], CustomerEvents.Types);
        await using var provider = new ServiceCollection()
            .AddSingleton(store.Database)
            .AddSingleton<SettingsStore>()
            .AddSingleton<Stitcher>()
            .AddMassTransitTestHarness(x => x.AddConsumer<ContactEventReceivedBatchConsumer>().Endpoint(e => e.ConcurrentMessageLimit = 1))
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var consumer = harness.GetConsumerHarness<ContactEventReceivedBatchConsumer>();
        var now = DateTimeOffset.UtcNow;
        ContactEventReceived Contact(string tenant, string email, int n) => new(Guid.CreateVersion7(), tenant, "web", $"e{n}", $"c{n}", "email", "inbound",
            "message", now.AddMinutes(n), now, [new ContactIdentifier("email", email)], null);
        var contacts = new[] { Contact("acme", "ada@example.com", 1), Contact("acme", "ada@example.com", 2), Contact("", "bob@example.com", 3) };
        var items = contacts.Select(c => new BatchItem<ContactEventReceived>(Guid.NewGuid(), now, null, c)).ToList();
        var batch = new ContactEventReceivedBatch(Guid.NewGuid(), items);

        // When it arrives, and again with the same message id (a redelivery).
        await harness.Bus.Publish(batch, context => context.MessageId = batch.Id);
        await Consumed(consumer, batch.Id, "the batch");
        var first = await Tables(store);
        await harness.Bus.Publish(batch, context => context.MessageId = batch.Id);
        var marker = new ContactEventReceivedBatch(Guid.NewGuid(), [items[0]]);
        await harness.Bus.Publish(marker, context => context.MessageId = marker.Id);
        await Consumed(consumer, marker.Id, "the marker behind the redelivery");

        // Then the two good contacts are one customer with both on the timeline, each told downstream once; the bad one
        // went back to the queue alone (as a one-item batch keyed by its own item id), not into any table; the batch
        // itself did not fault; and the redelivery (and the marker repeating an item) changed nothing.
        Assert.Equal(new Counts(Customers: 1, Timeline: 2, Inbox: 2, Attributed: 2, SentBackAlone: 1), first);
        Assert.Equal(first, await Tables(store));
        await using var connection = store.DataSource.CreateConnection();
        Assert.Equal(contacts[2].Id, await connection.ExecuteScalarAsync<Guid>(
            "select (body -> 'items' -> 0 -> 'message' ->> 'id')::uuid from outbox where id = @id", new { id = items[2].MessageId }));
        Assert.DoesNotContain(consumer.Consumed.Select<ContactEventReceivedBatch>(), m => m.Exception is not null);
    }

    [Fact]
    public async Task Efforts_batch_scores_each_customer_once_per_contact_as_a_set_and_a_redelivery_changes_nothing()
    {
        // Given effort's schema, and a batch of three attributed contacts: two of customer A, one of customer B.
        await using var store = await MigratedDatabase.Create(servers, "harness_effort_batch", "effort",
            [.. SharedMigrations.All, .. EffortSchema.Migrations], ContactStream.Types);
        await using var provider = new ServiceCollection()
            .AddSingleton(store.Database)
            .AddSingleton(Options.Create(new EffortSettings()))
            .AddSingleton<EffortStore>()
            .AddMassTransitTestHarness(x => x.AddConsumer<ContactAttributedBatchConsumer>().Endpoint(e => e.ConcurrentMessageLimit = 1))
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var consumer = harness.GetConsumerHarness<ContactAttributedBatchConsumer>();
        var (a, b) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var now = DateTimeOffset.UtcNow;
        ContactAttributed Attributed(Guid customer, int n) => new(Guid.CreateVersion7(), "acme", Guid.CreateVersion7(), customer, "voice", "call",
            now.AddMinutes(n), n == 1, [], new ContactDetails("web", $"c{n}", "inbound", "billing", null, null, null, null,
                new ContactMeasures(null, null, null, Transfers: 2, Abandoned: null, Resolved: false), null));
        var items = new[] { Attributed(a, 1), Attributed(a, 2), Attributed(b, 3) }
            .Select(c => new BatchItem<ContactAttributed>(Guid.NewGuid(), now, null, c)).ToList();
        var batch = new ContactAttributedBatch(Guid.NewGuid(), items);

        // When it arrives, and again with the same message id; then a new batch that repeats one item beside a fresh one.
        await harness.Bus.Publish(batch, context => context.MessageId = batch.Id);
        await Consumed(consumer, batch.Id, "the batch");
        var first = await Versions(store);
        await harness.Bus.Publish(batch, context => context.MessageId = batch.Id);
        var fresh = new BatchItem<ContactAttributed>(Guid.NewGuid(), now, null, Attributed(b, 4));
        var next = new ContactAttributedBatch(Guid.NewGuid(), [items[2], fresh]);
        await harness.Bus.Publish(next, context => context.MessageId = next.Id);
        await Consumed(consumer, next.Id, "the batch repeating an item");

        // Then A's state was written twice (one version per contact) and B's once, with a score published per contact;
        // the redelivery changed nothing, and of the next batch only the fresh contact counted.
        Assert.Equal((A: 2L, B: 1L, Scores: 3L, Inbox: 3L), first);
        Assert.Equal((A: 2L, B: 2L, Scores: 4L, Inbox: 4L), await Versions(store));
        Assert.DoesNotContain(consumer.Consumed.Select<ContactAttributedBatch>(), m => m.Exception is not null);
        // Each contact is in its customer's stream once, as the event it was received as.
        await using (var connection = store.DataSource.CreateConnection())
        {
            Assert.Equal([(a, 2L), (b, 2L)], (await connection.QueryAsync<(Guid, long)>(
                "select stream_id, count(*) from mt_events where type = 'contact_received' group by stream_id order by stream_id = @a desc",
                new { a })).ToList());
        }

        async Task<(long A, long B, long Scores, long Inbox)> Versions(MigratedDatabase db)
        {
            await using var connection = db.DataSource.CreateConnection();
            return (await connection.ExecuteScalarAsync<long>("select version from customer_effort where customer_id = @a", new { a }),
                await connection.ExecuteScalarAsync<long>("select version from customer_effort where customer_id = @b", new { b }),
                await connection.ExecuteScalarAsync<long>("select count(*) from outbox where message_type = @type", new { type = typeof(EffortScored).FullName }),
                await connection.ExecuteScalarAsync<long>("select count(*) from inbox"));
        }
    }

    private sealed record Counts(long Customers, long Timeline, long Inbox, long Attributed, long SentBackAlone);

    private static async Task<Counts> Tables(MigratedDatabase store)
    {
        await using var connection = store.DataSource.CreateConnection();
        return await connection.QuerySingleAsync<Counts>("""
            select (select count(*) from customers) as customers, (select count(*) from timeline) as timeline, (select count(*) from inbox) as inbox,
                (select count(*) from outbox where message_type = @attributed) as attributed,
                (select count(*) from outbox where message_type = @batch) as sentbackalone
            """, new { attributed = typeof(ContactAttributed).FullName, batch = typeof(ContactEventReceivedBatch).FullName });
    }

    /// <summary>Waits until the consumer has handled the message with this id (the harness's own Any can answer before it is delivered).</summary>
    private static Task Consumed<TConsumer>(IConsumerTestHarness<TConsumer> consumer, Guid messageId, string what) where TConsumer : class, IConsumer =>
        TestPipeline.Eventually(() => Task.FromResult(consumer.Consumed.Select(m => m.Context.MessageId == messageId).Any()),
            TimeSpan.FromSeconds(30), () => Task.FromResult($"{what} was not consumed"));
}
