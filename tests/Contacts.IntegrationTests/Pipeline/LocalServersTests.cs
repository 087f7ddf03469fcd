using Contacts.Dev.Servers;
using Contacts.IntegrationTests.Infrastructure;
using Npgsql;

namespace Contacts.IntegrationTests;

/// <summary>
/// The local servers `tools/run` and the tests start, where a newcomer starts them: a root user's checkout in a folder only
/// its owner may enter, two checkouts on one machine, and a start that fails half way.
/// </summary>
[OwnServers]
[Collection(ServersCollection.Name)] // not beside the other suites' start-ups: these start several servers of their own
public sealed class LocalServersTests : IDisposable
{
    // Created with mode 0700, like `mktemp -d` or /root: postgres cannot enter it.
    private readonly DirectoryInfo _private = Directory.CreateTempSubdirectory("contacts-private-");

    [Fact]
    public async Task PostgreSQL_starts_and_keeps_its_data_for_a_checkout_in_a_folder_only_its_owner_may_enter()
    {
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_private.FullName));
        }
        var dataRoot = Path.Combine(_private.FullName, "repo", ".local");
        string? dataDirectory = null;
        try
        {
            await using (var first = await PostgresServer.StartAsync(dataRoot, durable: true))
            {
                dataDirectory = first.DataDirectory;
                await first.CreateDatabaseAsync("contacts");
                await Execute(first, "create table kept (id int); insert into kept values (42)");
            }
            // The next run of the same checkout finds the same cluster again.
            await using var second = await PostgresServer.StartAsync(dataRoot, durable: true);
            Assert.Equal(dataDirectory, second.DataDirectory);
            Assert.Equal(42, await Execute(second, "select id from kept"));
            if (Environment.UserName == "root")
            {
                Assert.Equal(PostgresDataLocation.Fallback(Path.Combine(dataRoot, "postgres")), second.DataDirectory);
                Assert.Contains(second.DataDirectory!, await File.ReadAllTextAsync(Path.Combine(dataRoot, "postgres", "WHERE-IS-THE-DATA.txt")));
            }
        }
        finally
        {
            if (dataDirectory is not null && !dataDirectory.StartsWith(_private.FullName, StringComparison.Ordinal) && Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_throwaway_PostgreSQL_in_a_private_folder_starts_and_leaves_nothing_behind()
    {
        string? dataDirectory;
        await using (var server = await PostgresServer.StartAsync(Path.Combine(_private.FullName, "tmp")))
        {
            dataDirectory = server.DataDirectory;
            await server.CreateDatabaseAsync("contacts");
        }
        Assert.False(Directory.Exists(dataDirectory));
    }

    [Fact]
    public async Task Two_checkouts_run_their_own_durable_RabbitMQ_nodes_at_once()
    {
        var (a, b) = (Path.Combine(_private.FullName, "one", ".local"), Path.Combine(_private.FullName, "two", ".local"));
        await using var first = await RabbitMqServer.StartAsync(a, durable: true);
        await using var second = await RabbitMqServer.StartAsync(b, durable: true);
        Assert.NotEqual(first.NodeName, second.NodeName);
        await first.CreateVirtualHostAsync("contacts");
        await second.CreateVirtualHostAsync("contacts");
        Assert.True(first.IsRunning && second.IsRunning);
        // Stable per folder, so a durable node finds its queues again on the next run.
        Assert.Equal(RabbitMqServer.NodeNameFor(Path.Combine(a, "rabbitmq")), first.NodeName!.Split('@')[0]);
    }

    [Fact]
    public async Task When_PostgreSQL_fails_to_start_the_RabbitMQ_node_started_beside_it_is_stopped()
    {
        var rabbit = RabbitMqServer.StartAsync(Path.Combine(_private.FullName, "mq"));
        var postgres = Task.FromException<PostgresServer>(new InvalidOperationException("initdb: could not change directory: Permission denied"));

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => StartTogether.All(postgres, rabbit));

        Assert.Contains("Permission denied", failure.Message);
        var node = await rabbit;
        Assert.False(node.IsRunning);
        Assert.False(await FreePort.Accepts(new Uri(node.AmqpUri("x")).Port));
    }

    [Fact]
    public void A_second_run_from_the_same_folder_is_refused_at_once_with_who_holds_it()
    {
        var dataRoot = Path.Combine(_private.FullName, "repo", ".local");
        using (RunLock.Acquire(dataRoot))
        {
            var refused = Assert.Throws<InvalidOperationException>(() => RunLock.Acquire(dataRoot));
            Assert.Contains($"Another tools/run is using {dataRoot} (process {Environment.ProcessId})", refused.Message);
            // Another checkout is free to run.
            using var other = RunLock.Acquire(Path.Combine(_private.FullName, "other", ".local"));
        }
        using var again = RunLock.Acquire(dataRoot);
    }

    [Fact]
    public void Each_folder_has_its_own_stable_node_name_and_cluster_location()
    {
        Assert.Equal(RabbitMqServer.NodeNameFor("/root/a/.local/rabbitmq"), RabbitMqServer.NodeNameFor("/root/a/.local/rabbitmq"));
        Assert.NotEqual(RabbitMqServer.NodeNameFor("/root/a/.local/rabbitmq"), RabbitMqServer.NodeNameFor("/root/b/.local/rabbitmq"));
        Assert.Matches("^contacts-[0-9a-f]{10}$", RabbitMqServer.NodeNameFor("/x"));
        Assert.NotEqual(PostgresDataLocation.Fallback("/root/a/.local/postgres"), PostgresDataLocation.Fallback("/root/b/.local/postgres"));
        Assert.StartsWith("/var/tmp/contacts-postgres-", PostgresDataLocation.Fallback("/root/a/.local/postgres"), StringComparison.Ordinal);
    }

    private static async Task<int?> Execute(PostgresServer server, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString("contacts"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync() as int?;
    }

    public void Dispose() => _private.Delete(recursive: true);
}
