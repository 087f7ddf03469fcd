using System.Text.Json;
using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Outbox;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Contacts.IntegrationTests;

/// <summary>Effort's contacts, stored in a table before the event store, move into the customers' streams when the schema is migrated.</summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class EffortStreamsMigrationTests(ServersFixture servers)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Stored_contacts_become_their_customers_streams_which_read_back_and_take_the_next_contact()
    {
        // Given effort's schema up to the step before streams: Ana holds two contacts (Ben's moved to her when he was merged into her)
        var isolation = await servers.Isolate("effort_upgrade");
        await using var dataSource = new NpgsqlDataSourceBuilder(
            new NpgsqlConnectionStringBuilder(isolation.Postgres) { SearchPath = "effort" }.ConnectionString).Build();
        Migration[] all = [.. SharedMigrations.All, .. EffortSchema.Migrations];
        var store = MartenEvents.Store(dataSource, "effort", ContactStream.Types);
        await new SchemaMigrator(dataSource, new SchemaDefinition("effort", [.. all.TakeWhile(m => m.Id != "effort_0007_contacts_in_streams")]),
            new MigrationState(), NullLogger<SchemaMigrator>.Instance, [new MartenSchema(store)]).MigrateAsync(CancellationToken.None);
        var (ana, ben) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var first = new ContactEvent(Guid.CreateVersion7(), "pbx", "c1", "voice", "inbound", "ended", T0, "billing",
            Measures: new ContactMeasures(20, 60, 240, 1, false, false));
        var second = new ContactEvent(Guid.CreateVersion7(), "zendesk", "c2", "email", "inbound", "message", T0.AddHours(1), "billing");
        await using (var seed = dataSource.CreateCommand("""
            insert into customer_effort (customer_id, tenant_id, score, contacts_in_window, channels_in_window, drivers, version, snapshot)
            values (@ana, 't', 10, 2, 2, '[]', 3, @snapshot::jsonb);
            insert into customer_effort (customer_id, tenant_id, score, contacts_in_window, channels_in_window, drivers, version, merged_into)
            values (@ben, 't', 0, 0, 0, '[]', 2, @ana);
            insert into contact_events (contact_event_id, tenant_id, customer_id, occurred_at, data) values
                (@e2, 't', @ana, @at2, @second::jsonb), (@e1, 't', @ana, @at1, @first::jsonb);
            """))
        {
            seed.Parameters.AddWithValue("ana", ana);
            seed.Parameters.AddWithValue("ben", ben);
            seed.Parameters.AddWithValue("e1", first.EventId);
            seed.Parameters.AddWithValue("e2", second.EventId);
            seed.Parameters.AddWithValue("at1", first.OccurredAt);
            seed.Parameters.AddWithValue("at2", second.OccurredAt);
            seed.Parameters.AddWithValue("first", JsonSerializer.Serialize(first, JsonSerializerOptions.Web));
            seed.Parameters.AddWithValue("second", JsonSerializer.Serialize(second, JsonSerializerOptions.Web));
            seed.Parameters.AddWithValue("snapshot", JsonSerializer.Serialize(new[] { first, second }, JsonSerializerOptions.Web));
            await seed.ExecuteNonQueryAsync();
        }

        // When effort starts on this version: the migrations run to the end
        var state = new MigrationState();
        await new SchemaMigrator(dataSource, new SchemaDefinition("effort", all), state, NullLogger<SchemaMigrator>.Instance, [new MartenSchema(store)])
            .MigrateAsync(CancellationToken.None);
        state.Complete();
        var database = new Database(dataSource, state, new OutboxSignal(), store, faults: null);

        // Then Marten reads each stream back as the events effort appends, the history holds both contacts, the table is gone
        var anaStream = await database.InTransaction(s => s.Events.FetchStream(ana, "t"), default);
        Assert.Equal([(1L, (object)new ContactReceived(first)), (2L, new ContactReceived(second))], anaStream.Select(e => (e.Version, e.Data)));
        Assert.Equal([(object)new MergedInto(ana)], (await database.InTransaction(s => s.Events.FetchStream(ben, "t"), default)).Select(e => e.Data));
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            var histories = await EffortStore.Histories(connection, null, [("t", ana), ("t", ben)], default);
            Assert.Equal([first, second], histories[ana]);
            Assert.Empty(histories[ben]);
            await using var table = new NpgsqlCommand("select to_regclass('effort.contact_events') is null", connection);
            Assert.True((bool)(await table.ExecuteScalarAsync())!);
        }

        // And a new contact for Ben is scored for Ana and appended to her stream after them
        var third = new ContactAttributed(Guid.CreateVersion7(), "t", Guid.CreateVersion7(), ben, "chat", "message", T0.AddHours(2), false, [], null);
        var effort = new EffortStore(Options.Create(new EffortSettings()));
        await database.InTransaction(s => ContactAttributedBatchConsumer.ScoreSet(s, effort, [(third, null)], default), default);
        anaStream = await database.InTransaction(s => s.Events.FetchStream(ana, "t"), default);
        Assert.Equal((3L, third.ContactEventId), (anaStream[^1].Version, ((ContactReceived)anaStream[^1].Data).Contact.EventId));
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal(3, (await EffortStore.Histories(connection, null, [("t", ana)], default))[ana].Count);
        }
    }
}
