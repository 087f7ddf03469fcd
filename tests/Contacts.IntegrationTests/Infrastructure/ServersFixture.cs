using System.Collections.Concurrent;
using Contacts.Dev.Servers;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>
/// A real PostgreSQL and a real RabbitMQ for the whole test run: the servers named by CONTACTS_POSTGRES and
/// CONTACTS_RABBITMQ (+ CONTACTS_RABBITMQ_MANAGEMENT), or throwaway ones started from the OS packages. Each test class
/// gets its own database and virtual host. Missing binaries fail the run with the install command; nothing skips.
/// </summary>
public sealed class ServersFixture : IAsyncLifetime
{
    private readonly ConcurrentBag<IAsyncDisposable> _owned = [];
    private readonly ConcurrentDictionary<string, Lazy<Task<IAsyncDisposable>>> _shared = new();

    public PostgresServer Postgres { get; private set; } = null!;
    public RabbitMqServer RabbitMq { get; private set; } = null!;

    public static string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "contacts-tests");

    public static string LogRoot { get; } = Path.Combine(Contacts.Dev.Pipeline.LocalPipeline.RepositoryRoot, "TestResults", "logs");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataRoot);
        var postgres = Environment.GetEnvironmentVariable("CONTACTS_POSTGRES") is { Length: > 0 } pg
            ? Task.FromResult(PostgresServer.External(pg))
            : PostgresServer.StartAsync(DataRoot);
        var rabbit = Environment.GetEnvironmentVariable("CONTACTS_RABBITMQ") is { Length: > 0 } amqp
            ? Task.FromResult(RabbitMqServer.External(amqp, Environment.GetEnvironmentVariable("CONTACTS_RABBITMQ_MANAGEMENT") ?? ""))
            : RabbitMqServer.StartAsync(DataRoot);
        // One failing to start stops the other: a broken run leaves no server behind.
        (Postgres, RabbitMq) = await StartTogether.All(postgres, rabbit);
    }

    /// <summary>A database and a virtual host of their own, named after the test.</summary>
    public async Task<Isolation> Isolate(string name, PostgresServer? postgres = null, RabbitMqServer? rabbit = null)
    {
        postgres ??= Postgres;
        rabbit ??= RabbitMq;
        var id = $"{name.ToLowerInvariant()}_{Guid.NewGuid().ToString("N")[..8]}";
        await postgres.CreateDatabaseAsync(id);
        await rabbit.CreateVirtualHostAsync(id);
        return new Isolation(id, postgres.ConnectionString(id), rabbit.AmqpUri(id), postgres, rabbit);
    }

    /// <summary>Servers of a test's own, for tests that stop and restart them.</summary>
    public async Task<(PostgresServer Postgres, RabbitMqServer RabbitMq)> StartDedicated(bool postgres, bool rabbit)
    {
        var pg = postgres ? await PostgresServer.StartAsync(DataRoot) : Postgres;
        var mq = rabbit ? await RabbitMqServer.StartAsync(DataRoot) : RabbitMq;
        if (postgres)
        {
            _owned.Add(pg);
        }
        if (rabbit)
        {
            _owned.Add(mq);
        }
        return (pg, mq);
    }

    /// <summary>One instance per key for the whole run (xunit 2 fixtures cannot depend on this one), disposed at the end.</summary>
    public async Task<T> Shared<T>(string key, Func<Task<T>> create) where T : class, IAsyncDisposable =>
        (T)await _shared.GetOrAdd(key, _ => new Lazy<Task<IAsyncDisposable>>(async () => await create())).Value;

    public async Task DisposeAsync()
    {
        foreach (var shared in _shared.Values.Where(s => s.IsValueCreated))
        {
            await (await shared.Value).DisposeAsync();
        }
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        await RabbitMq.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}

public sealed record Isolation(string Name, string Postgres, string RabbitMq, PostgresServer PostgresServer, RabbitMqServer RabbitMqServer);

[CollectionDefinition(Name)]
public sealed class ServersCollection : ICollectionFixture<ServersFixture>
{
    public const string Name = "real servers";
}
