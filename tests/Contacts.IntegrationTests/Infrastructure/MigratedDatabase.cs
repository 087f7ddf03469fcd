using Contacts.Messaging;
using Contacts.Messaging.EventStore;
using Contacts.Messaging.Outbox;
using Contacts.Messaging.Persistence;
using Contacts.Persistence;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>
/// A service's schema migrated in a database of its own and the <see cref="Database"/> over it, without the service
/// around it: for tests that drive the persistence or a decision's shell directly.
/// </summary>
public sealed class MigratedDatabase : IAsyncDisposable
{
    private MigratedDatabase(NpgsqlDataSource dataSource, Database database) => (DataSource, Database) = (dataSource, database);

    public NpgsqlDataSource DataSource { get; }
    public Database Database { get; }

    public static async Task<MigratedDatabase> Create(ServersFixture servers, string name, string schema, IEnumerable<Migration> migrations,
        IEnumerable<Type> eventTypes, int maxPoolSize = 20, OutboxHandoff? handoff = null)
    {
        var isolation = await servers.Isolate(name);
        var dataSource = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(isolation.Postgres) { SearchPath = schema, MaxPoolSize = maxPoolSize }
            .ConnectionString).Build();
        DapperConventions.Use();
        var state = new MigrationState();
        var store = eventTypes.Any() ? MartenEvents.Store(dataSource, schema, eventTypes) : null;
        await new SchemaMigrator(dataSource, new SchemaDefinition(schema, [.. migrations]), state, NullLogger<SchemaMigrator>.Instance,
            store is null ? [] : [new MartenSchema(store)]).MigrateAsync(CancellationToken.None);
        state.Complete();
        return new MigratedDatabase(dataSource, new Database(dataSource, state, new OutboxSignal(), store, faults: null, handoff: handoff));
    }

    /// <summary>What a consumer does, minus the broker: inbox + work in one transaction, retried on a transient failure.</summary>
    public async Task HandleWithRetries(string consumer, Guid messageId, Func<Session, Task> work, int attempts = 50)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Database.HandleOnce(consumer, messageId, work, CancellationToken.None);
                return;
            }
            catch (Exception ex) when (RetryConventions.IsTransient(ex) && attempt < attempts)
            {
                await Task.Delay(Random.Shared.Next(1, 10));
            }
        }
    }

    /// <summary>Reads the rows a statement returns, with its parameters.</summary>
    public async Task<List<T>> Query<T>(string sql, Func<NpgsqlDataReader, T> read, params (string Name, object Value)[] args)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        return await SqlRows.Read(cmd, read, args);
    }

    public async ValueTask DisposeAsync() => await DataSource.DisposeAsync();
}
