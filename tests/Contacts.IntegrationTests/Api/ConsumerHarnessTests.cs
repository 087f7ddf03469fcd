using Contacts.Contracts;
using Contacts.Ingestion.Erasure;
using Contacts.Ingestion.Events;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging;
using Contacts.Messaging.Persistence;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

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
            .AddMassTransitTestHarness(x => x.AddConsumer<CustomerErasedConsumer>().Endpoint(e => e.ConcurrentMessageLimit = 1))
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var consumer = harness.GetConsumerHarness<CustomerErasedConsumer>();

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

    /// <summary>Waits until the consumer has handled a message like this (the harness's own Any can answer before it is delivered).</summary>
    private static Task Consumed(IConsumerTestHarness<CustomerErasedConsumer> consumer, Func<IReceivedMessage<CustomerErased>, bool> which, string what) =>
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
