using Contacts.Messaging.EventStore;
using Contacts.Messaging.Outbox;
using Contacts.ServiceDefaults.Hosting;
using Contacts.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Contacts.Messaging.Persistence;

public static class DatabaseSetup
{
    /// <summary>
    /// The service's own PostgreSQL schema (ServiceDefaults' AddPostgres) with the inbox and outbox tables, the Marten
    /// event store of the given event types (none given: no event store), and the <see cref="Database"/> whose
    /// transactions carry a message's inbox record, its work and its outbox rows.
    /// </summary>
    public static WebApplicationBuilder AddDatabase(this WebApplicationBuilder builder, string schema,
        IEnumerable<Migration> migrations, params Type[] eventTypes)
    {
        builder.AddPostgres(schema, [.. SharedMigrations.All, .. migrations]);
        if (eventTypes.Length > 0)
        {
            // The service's event streams on Marten, its tables kept by the schema migrator.
            builder.Services.AddSingleton<Marten.IDocumentStore>(sp =>
                MartenEvents.Store(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), schema, eventTypes));
            builder.Services.AddSingleton<ISchemaObjects, MartenSchema>();
        }
        builder.Services.AddSingleton<OutboxSignal>();
        // Fault injection for the reliability suite, registered only when a setting asks for it.
        if (CrashAfterCommit.Asked(builder.Configuration))
        {
            builder.Services.AddSingleton<CrashAfterCommit>();
        }
        // Persistence:BatchLimit: how many waiting messages of one consumer may share a transaction (1 turns sharing off).
        var batchLimit = builder.Configuration.GetValue<int?>("Persistence:BatchLimit") ?? Database.DefaultBatchLimit;
        builder.Services.AddSingleton(sp => new Database(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), sp.GetRequiredService<MigrationState>(),
            sp.GetRequiredService<OutboxSignal>(), sp.GetService<Marten.IDocumentStore>(), sp.GetService<CrashAfterCommit>(), batchLimit,
            sp.GetService<OutboxHandoff>()));
        return builder;
    }
}
