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

    /// <summary>TestResults/ of the checkout, or CONTACTS_TEST_RESULTS (tools/soak gives each run its own).</summary>
    public static string ResultsRoot { get; } = Environment.GetEnvironmentVariable("CONTACTS_TEST_RESULTS") is { Length: > 0 } results
        ? Path.GetFullPath(results)
        : Path.Combine(Contacts.Dev.Pipeline.LocalPipeline.RepositoryRoot, "TestResults");

    public static string LogRoot { get; } = Path.Combine(ResultsRoot, "logs");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataRoot);
        var externalPostgres = Environment.GetEnvironmentVariable("CONTACTS_POSTGRES");
        var externalRabbit = Environment.GetEnvironmentVariable("CONTACTS_RABBITMQ");
        if (string.IsNullOrEmpty(externalPostgres) && string.IsNullOrEmpty(externalRabbit) && await ContainerServers.DockerAnswers())
        {
            var containers = await ContainerServers.StartAsync();
            _owned.Add(containers);
            (Postgres, RabbitMq) = (containers.Postgres, containers.RabbitMq);
            RecordServers($"testcontainers {containers.Describe()}");
            return;
        }
        var postgres = externalPostgres is { Length: > 0 } pg
            ? Task.FromResult(PostgresServer.External(pg))
            : PostgresServer.StartAsync(DataRoot);
        var rabbit = externalRabbit is { Length: > 0 } amqp
            ? Task.FromResult(RabbitMqServer.External(amqp, Environment.GetEnvironmentVariable("CONTACTS_RABBITMQ_MANAGEMENT") ?? ""))
            : RabbitMqServer.StartAsync(DataRoot);
        // One failing to start stops the other: a broken run leaves no server behind.
        (Postgres, RabbitMq) = await StartTogether.All(postgres, rabbit);
        RecordServers(externalPostgres is { Length: > 0 } || externalRabbit is { Length: > 0 } ? "external" : "local");
    }

    /// <summary>
    /// Which servers the shared tests ran on, for the CI summary: `.ci/run` counts the tests that ran on Testcontainers
    /// from the results only when this says so (tests in the DedicatedServers category start local servers of their own).
    /// </summary>
    private static void RecordServers(string kind)
    {
        Kind = kind.Split(' ')[0];
        Directory.CreateDirectory(ResultsRoot);
        File.WriteAllText(Path.Combine(ResultsRoot, "servers.txt"), kind + Environment.NewLine);
        File.Delete(Path.Combine(ResultsRoot, "servers-by-test.txt")); // a new run: nothing of an earlier one counts
    }

    /// <summary>testcontainers, local or external: what the shared servers are, once started.</summary>
    public static string? Kind { get; private set; }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> OwnServers = new();

    /// <summary>
    /// After each test: which servers it ran on, one line per test in TestResults/servers-by-test.txt, so that `.ci/run`
    /// can count from the results how many passed on Testcontainers. A test ran on the shared servers when its class
    /// takes this fixture, is not marked [OwnServers], and did not start dedicated servers.
    /// </summary>
    internal static void RecordTest(System.Reflection.MethodInfo test)
    {
        var type = test.ReflectedType ?? test.DeclaringType!;
        var shared = type.GetConstructors().Any(c => c.GetParameters().Any(p => p.ParameterType == typeof(ServersFixture)));
        var own = type.IsDefined(typeof(OwnServersAttribute), inherit: false) || OwnServers.ContainsKey($"{type.FullName}.{test.Name}");
        var kind = !shared ? "none" : own ? "own" : Kind ?? "none";
        lock (OwnServers)
        {
            Directory.CreateDirectory(ResultsRoot);
            File.AppendAllText(Path.Combine(ResultsRoot, "servers-by-test.txt"), $"{type.FullName}.{test.Name}\t{kind}{Environment.NewLine}");
        }
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
    public async Task<(PostgresServer Postgres, RabbitMqServer RabbitMq)> StartDedicated(bool postgres, bool rabbit,
        [System.Runtime.CompilerServices.CallerMemberName] string test = "", [System.Runtime.CompilerServices.CallerFilePath] string file = "")
    {
        OwnServers[$"Contacts.IntegrationTests.{Path.GetFileNameWithoutExtension(file)}.{test}"] = true;
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

/// <summary>Marks a test class whose tests start servers of their own instead of using the shared ones.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class OwnServersAttribute : Attribute;

/// <summary>Records, after every test of the assembly, which servers it ran on (see ServersFixture.RecordTest).</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class RecordServersAttribute : Xunit.Sdk.BeforeAfterTestAttribute
{
    public override void After(System.Reflection.MethodInfo methodUnderTest) => ServersFixture.RecordTest(methodUnderTest);
}
