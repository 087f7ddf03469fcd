using Contacts.Alerting.Alerts;
using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;
using Contacts.Ingestion.Events;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using IngestionErasure = Contacts.Ingestion.Erasure.CustomerErasedConsumer;

namespace Contacts.IntegrationTests;

/// <summary>
/// A consumer on MassTransit's own test harness (in-memory transport) over its service's real schema in PostgreSQL: what
/// one message does to the tables, what its redelivery does, and what a bad one faults with, without a broker or a host.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ConsumerHarnessTests(ServersFixture servers)
{
    [Fact]
    public async Task Ingestions_erasure_forgets_only_the_named_events_once_a_redelivery_changes_nothing_and_a_message_without_a_tenant_faults()
    {
        // Given ingestion's schema with two stored events of one tenant.
        await using var store = await MigratedDatabase.Create(servers, "harness_ingestion", "ingestion",
            [.. SharedMigrations.All, .. IngestionSchema.Migrations], []);
        var (erasedEvent, keptEvent) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        foreach (var (id, sourceId) in new[] { (erasedEvent, "e-1"), (keptEvent, "e-2") })
        {
            await using var insert = store.DataSource.CreateCommand(
                "insert into received_events (tenant_id, source, source_event_id, event_id, event) values ('acme', 'web', @s, @id, '{}')");
            insert.Parameters.AddWithValue("s", sourceId);
            insert.Parameters.AddWithValue("id", id);
            await insert.ExecuteNonQueryAsync();
        }
        await using var provider = new ServiceCollection()
            .AddSingleton(store.Database)
            .AddSingleton(new ErasureSweep(Options.Create(new RabbitMqOptions())))
            .AddMassTransitTestHarness(x => x.AddConsumer<IngestionErasure>().Endpoint(e => e.ConcurrentMessageLimit = 1))
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var consumer = harness.GetConsumerHarness<IngestionErasure>();

        // When the erasure of the first event arrives, and then again with the same message id (a redelivery).
        var erased = new CustomerErased(Guid.NewGuid(), "acme", Guid.NewGuid(), [], [erasedEvent], DateTimeOffset.UtcNow);
        var messageId = Guid.NewGuid();
        await harness.Bus.Publish(erased, context => context.MessageId = messageId);
        await Consumed(consumer, m => m.Context.MessageId == messageId, "the erasure");
        await harness.Bus.Publish(erased, context => context.MessageId = messageId);
        // The harness lists a message id once, so a marker behind the redelivery (one at a time) says it was handled.
        var marker = Guid.NewGuid();
        await harness.Bus.Publish(erased with { Id = Guid.NewGuid(), ContactEventIds = [Guid.NewGuid()] }, context => context.MessageId = marker);
        await Consumed(consumer, m => m.Context.MessageId == marker, "the marker behind the redelivery");

        // Then only the named event is gone, and the inbox holds the message once.
        Assert.Equal(0L, await Count(store, "select count(*) from received_events where event_id = @id", erasedEvent));
        Assert.Equal(1L, await Count(store, "select count(*) from received_events where event_id = @id", keptEvent));
        Assert.Equal(1L, await Count(store, "select count(*) from inbox where message_id = @id", messageId));
        Assert.DoesNotContain(consumer.Consumed.Select<CustomerErased>(), m => m.Exception is not null);

        // A message without a tenant is refused as invalid (a fault naming why), and deletes nothing.
        await harness.Bus.Publish(erased with { Id = Guid.NewGuid(), TenantId = "" });
        await Consumed(consumer, m => m.Context.Message.TenantId == "", "the message without a tenant");
        var refused = consumer.Consumed.Select<CustomerErased>(m => m.Context.Message.TenantId == "").Single();
        var why = Assert.IsType<InvalidMessageException>(refused.Exception);
        Assert.Contains("lacks a tenant", why.Message);
        Assert.Equal(1L, await Count(store, "select count(*) from received_events", null));
    }

    [Theory]
    [InlineData(true, "open")]
    [InlineData(false, "resolved")]
    public async Task Alertings_survivor_score_that_overtakes_the_split_gives_the_alert_back_instead_of_resolving_it(bool carriesSplit, string survivorsAlertEnds)
    {
        // Given alerting's schema: R's contact raised an alert, then identity merged R into S, so the alert is S's.
        await using var store = await MigratedDatabase.Create(servers, $"harness_alerting_{carriesSplit}", "alerting",
            [.. SharedMigrations.All, .. AlertingSchema.Migrations], []);
        await using var provider = new ServiceCollection()
            .AddSingleton(store.Database)
            .AddSingleton(Options.Create(new WebhookOptions()))
            .AddSingleton(new WebhookSignal())
            .AddSingleton<AlertChanges>()
            .AddSingleton(new AlertingSettingsStore(Options.Create(new AlertRuleOptions())))
            .AddSingleton(TimeProvider.System)
            .AddMassTransitTestHarness(x =>
            {
                x.AddConsumer<EffortScoredConsumer>();
                x.AddConsumer<CustomersMergedConsumer>();
                x.AddConsumer<CustomerSplitConsumer>();
            })
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var (restored, survivor, journey) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var (restoredContact, survivorContact) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var now = DateTimeOffset.UtcNow;
        EffortScored Score(Guid customer, Guid contact, int score, long version) =>
            new(Guid.NewGuid(), "acme", customer, contact, score, 3, 3, [], now.AddHours(-2), now, version, journey);
        async Task<(Guid Customer, string Status)?> Alert() =>
            await store.Database.InTransaction(async session =>
            {
                await using var cmd = session.Command("select customer_id, status from alerts where contact_event_id = @c");
                cmd.Parameters.AddWithValue("c", restoredContact);
                await using var reader = await cmd.ExecuteReaderAsync();
                return await reader.ReadAsync() ? ((Guid, string)?)(reader.GetGuid(0), reader.GetString(1)) : null;
            }, CancellationToken.None);
        async Task Until(Func<(Guid Customer, string Status)?, bool> holds, string what) =>
            await TestPipeline.Eventually(async () => holds(await Alert()), TimeSpan.FromSeconds(30), async () => $"{what}: {await Alert()}");

        await harness.Bus.Publish(Score(restored, restoredContact, 75, 1));
        await Until(a => a == (restored, "open"), "R's crossing raised no alert");
        await harness.Bus.Publish(new CustomersMerged(Guid.NewGuid(), "acme", survivor, [restored], survivorContact, now));
        await Until(a => a == (survivor, "open"), "the merge did not move the alert to S");

        // When effort's re-score of S after identity split R back out (35: S's own calm contacts, same journey) arrives
        // before the split itself.
        var split = new CustomerSplit(Guid.NewGuid(), "acme", survivor, restored, [survivorContact], [restoredContact], now);
        var rescore = Score(survivor, survivorContact, 35, 2) with { Split = carriesSplit ? split : null };
        await harness.Bus.Publish(rescore);

        // Then, carrying the split, the alert goes back to R still open, and the split arriving later changes nothing;
        // without it (the shape before this fix) the score resolves the alert on S.
        if (carriesSplit)
        {
            await Until(a => a == (restored, "open"), "the alert did not go back to R");
            await harness.Bus.Publish(split, context => context.MessageId = split.Id);
            await TestPipeline.Eventually(async () => await Count(store, "select count(*) from inbox where message_id = @id", split.Id) == 1,
                TimeSpan.FromSeconds(30), () => Task.FromResult("the split was not handled"));
            Assert.Equal((restored, "open"), await Alert());
        }
        else
        {
            await Until(a => a?.Status == survivorsAlertEnds, "the control's alert did not resolve");
        }
        Assert.Equal(1L, await Count(store, "select count(*) from alerts", null));
    }

    /// <summary>Waits until the consumer has handled a message like this (the harness's own Any can answer before it is delivered).</summary>
    private static Task Consumed(IConsumerTestHarness<IngestionErasure> consumer, Func<IReceivedMessage<CustomerErased>, bool> which, string what) =>
        TestPipeline.Eventually(() => Task.FromResult(consumer.Consumed.Select<CustomerErased>().Any(which)), TimeSpan.FromSeconds(30),
            () => Task.FromResult($"{what} was not consumed"));

    private static async Task<long> Count(MigratedDatabase store, string sql, Guid? id)
    {
        await using var cmd = store.DataSource.CreateCommand(sql);
        if (id is { } value)
        {
            cmd.Parameters.AddWithValue("id", value);
        }
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
