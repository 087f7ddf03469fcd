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
    /// The service's own PostgreSQL schema (ServiceDefaults' AddPostgres) with the inbox, outbox and event store tables,
    /// and the <see cref="Database"/> whose transactions carry a message's inbox record, its work and its outbox rows.
    /// </summary>
    public static WebApplicationBuilder AddDatabase(this WebApplicationBuilder builder, string schema,
        IEnumerable<Migration> migrations, params Type[] eventTypes)
    {
        builder.AddPostgres(schema, [.. SharedMigrations.All, .. migrations]);
        builder.Services.AddSingleton(new EventTypes().Register(eventTypes));
        builder.Services.AddSingleton<OutboxSignal>();
        // Fault injection for the reliability suite, registered only when a setting asks for it.
        if (CrashAfterCommit.Asked(builder.Configuration))
        {
            builder.Services.AddSingleton<CrashAfterCommit>();
        }
        // Persistence:BatchLimit: how many waiting messages of one consumer may share a transaction (1 turns sharing off).
        var batchLimit = builder.Configuration.GetValue<int?>("Persistence:BatchLimit") ?? Database.DefaultBatchLimit;
        builder.Services.AddSingleton(sp => new Database(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), sp.GetRequiredService<MigrationState>(),
            sp.GetRequiredService<OutboxSignal>(), sp.GetRequiredService<EventTypes>(), sp.GetService<CrashAfterCommit>(), batchLimit,
            sp.GetService<OutboxHandoff>()));
        return builder;
    }
}
