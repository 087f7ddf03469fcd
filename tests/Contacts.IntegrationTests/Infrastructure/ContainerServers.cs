using System.Net.Sockets;
using Contacts.Dev.Servers;
using DotNet.Testcontainers.Containers;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>
/// PostgreSQL and RabbitMQ on Testcontainers, used whenever a Docker engine answers (CONTACTS_TESTCONTAINERS=off turns
/// it off). Images come from CONTACTS_POSTGRES_IMAGE and CONTACTS_RABBITMQ_IMAGE, the official images by default; CI
/// builds equivalents from Debian's packages (tools/docker/build-images) because it reaches no image registry.
/// </summary>
public sealed class ContainerServers : IAsyncDisposable
{
    public const string DefaultPostgresImage = "postgres:17";
    public const string DefaultRabbitMqImage = "rabbitmq:4-management";
    private const int ManagementPort = 15672;

    private readonly PostgreSqlContainer _postgres;
    private readonly RabbitMqContainer _rabbit;

    private ContainerServers(PostgreSqlContainer postgres, RabbitMqContainer rabbit, PostgresServer postgresServer, RabbitMqServer rabbitServer)
    {
        _postgres = postgres;
        _rabbit = rabbit;
        Postgres = postgresServer;
        RabbitMq = rabbitServer;
    }

    public PostgresServer Postgres { get; }
    public RabbitMqServer RabbitMq { get; }

    /// <summary>True when Testcontainers is not switched off and the Docker engine's socket answers a ping.</summary>
    public static async Task<bool> DockerAnswers()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CONTACTS_TESTCONTAINERS"), "off", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        var socket = host is { Length: > 0 } && host.StartsWith("unix://", StringComparison.Ordinal) ? host["unix://".Length..] : "/var/run/docker.sock";
        if (host is { Length: > 0 } && !host.StartsWith("unix://", StringComparison.Ordinal))
        {
            return true; // a TCP engine: let Testcontainers reach it, and fail loudly if it cannot
        }
        if (!File.Exists(socket))
        {
            return false;
        }
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            return (await http.GetAsync("http://docker/_ping")).IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>Containers of this checkout's test runs carry this label, so a run that was killed is cleaned up by the next.</summary>
    public const string Label = "contacts.tests";

    /// <summary>Set by .ci/run (CONTACTS_TEST_RUN): its exit removes its own run's containers, never another checkout's.</summary>
    public const string RunLabel = "contacts.tests.run";

    private static string RunId { get; } = Environment.GetEnvironmentVariable("CONTACTS_TEST_RUN") is { Length: > 0 } run ? run : "-";

    private static string CheckoutId { get; } = Convert.ToHexStringLower(
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Contacts.Dev.Pipeline.LocalPipeline.RepositoryRoot)))[..16];

    public static async Task<ContainerServers> StartAsync()
    {
        await RemoveLeftovers();
        // Debian's engine speaks Docker API 1.41; Testcontainers asks for a newer one unless told. Ryuk's image cannot be
        // pulled without a registry, so the fixture removes its containers itself.
        Environment.SetEnvironmentVariable("DOCKER_API_VERSION", Environment.GetEnvironmentVariable("DOCKER_API_VERSION") ?? "1.41");
        Environment.SetEnvironmentVariable("TESTCONTAINERS_RYUK_DISABLED", Environment.GetEnvironmentVariable("TESTCONTAINERS_RYUK_DISABLED") ?? "true");

        var password = Guid.NewGuid().ToString("N");
        var postgres = new PostgreSqlBuilder(Image("CONTACTS_POSTGRES_IMAGE", DefaultPostgresImage))
            .WithUsername("postgres").WithPassword(password).WithDatabase("postgres")
            // Two instances of every service, each with its pools, need more than the default 100 connections.
            .WithCommand("-c", "max_connections=1000", "-c", "fsync=off")
            .WithAutoRemove(true)
            .WithCleanUp(true)
            .WithLabel(Label, CheckoutId)
            .WithLabel(RunLabel, RunId)
            .Build();
        var rabbit = new RabbitMqBuilder(Image("CONTACTS_RABBITMQ_IMAGE", DefaultRabbitMqImage))
            .WithUsername("contacts").WithPassword(password)
            .WithPortBinding(ManagementPort, assignRandomHostPort: true)
            .WithAutoRemove(true)
            .WithCleanUp(true)
            .WithLabel(Label, CheckoutId)
            .WithLabel(RunLabel, RunId)
            .Build();
        try
        {
            await Task.WhenAll(postgres.StartAsync(), rabbit.StartAsync());
        }
        catch
        {
            await Task.WhenAll(postgres.DisposeAsync().AsTask(), rabbit.DisposeAsync().AsTask());
            throw;
        }
        var management = $"http://{rabbit.Hostname}:{rabbit.GetMappedPublicPort(ManagementPort)}/";
        var servers = new ContainerServers(postgres, rabbit,
            // Persist Security Info keeps the password in connection strings derived from data sources built on this one.
            PostgresServer.External(new Npgsql.NpgsqlConnectionStringBuilder(postgres.GetConnectionString()) { PersistSecurityInfo = true }.ToString()),
            RabbitMqServer.External(rabbit.GetConnectionString(), management));
        await servers.WaitForManagement();
        return servers;
    }

    /// <summary>With Ryuk off nothing reaps a killed run's containers: remove this checkout's before starting new ones.</summary>
    private static async Task RemoveLeftovers()
    {
        try
        {
            using var list = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("docker",
                ["ps", "-aq", "--filter", $"label={Label}={CheckoutId}"]) { RedirectStandardOutput = true })!;
            var ids = (await list.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            await list.WaitForExitAsync();
            if (ids.Length > 0)
            {
                using var remove = System.Diagnostics.Process.Start("docker", ["rm", "-f", .. ids]);
                await remove.WaitForExitAsync();
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // no docker command line on this machine: Testcontainers talks to the engine directly, leftovers stay
        }
    }

    /// <summary>Which containers these are, for the test log and the CI summary.</summary>
    public string Describe() => $"{_postgres.Image.FullName} ({_postgres.Id[..12]}), {_rabbit.Image.FullName} ({_rabbit.Id[..12]})";

    /// <summary>The image named by the variable; else the one tools/docker/build-images made here, when present; else the official one.</summary>
    private static string Image(string variable, string fallback)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } image)
        {
            return image;
        }
        // Without a registry the official image cannot be pulled: a plain `dotnet test` beside a running engine uses the local build.
        var local = fallback.StartsWith("postgres", StringComparison.Ordinal) ? "contacts-test/postgres" : "contacts-test/rabbitmq";
        try
        {
            using var inspect = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("docker", ["image", "inspect", local])
                { RedirectStandardOutput = true, RedirectStandardError = true })!;
            inspect.WaitForExit();
            return inspect.ExitCode == 0 ? local : fallback;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return fallback;
        }
    }

    /// <summary>The management plugin starts after AMQP; virtual hosts are created through it.</summary>
    private async Task WaitForManagement()
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await RabbitMq.CreateVirtualHostAsync("readiness-probe");
                return;
            }
            catch (HttpRequestException) when (DateTimeOffset.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_postgres.DisposeAsync().AsTask(), _rabbit.DisposeAsync().AsTask());
    }
}
