using System.Net.Http.Headers;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>
/// The middle layer of the tests: one service's own Program run in memory (WebApplicationFactory) on the run's real
/// PostgreSQL and RabbitMQ, in a database and virtual host of its own, with everything it starts (migrations, the bus,
/// relays, background work). Its HTTP API is called as the gateway calls it, with the internal key and a tenant: no
/// gateway, no other service, no OS process. <typeparamref name="TEntryPoint"/> is any type of the service's assembly
/// (every service's Program is named Program).
/// </summary>
public sealed class ServiceHost<TEntryPoint> : WebApplicationFactory<TEntryPoint> where TEntryPoint : class
{
    private readonly string _project;
    private readonly IReadOnlyDictionary<string, string?> _settings;

    private ServiceHost(Isolation isolation, string project, IReadOnlyDictionary<string, string?>? settings)
    {
        (Isolation, _project) = (isolation, project);
        _settings = settings ?? new Dictionary<string, string?>();
    }

    public Isolation Isolation { get; }

    /// <summary>The key the gateway would pass on; random per host.</summary>
    public string InternalKey { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>Starts the service in a database and virtual host of its own; it has migrated and its bus is up when this returns.</summary>
    public static async Task<ServiceHost<TEntryPoint>> Start(ServersFixture servers, string name,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var project = typeof(TEntryPoint).Assembly.GetName().Name!;
        var host = new ServiceHost<TEntryPoint>(await servers.Isolate(name), project, settings);
        using var probe = host.CreateClient();
        await TestPipeline.Eventually(async () => (await probe.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60),
            () => Task.FromResult($"{project} in memory did not become ready"));
        return host;
    }

    /// <summary>A client that calls as the gateway does for <paramref name="tenant"/>: internal key and tenant headers.</summary>
    public HttpClient For(string tenant)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add(Tenant.InternalKeyHeader, InternalKey);
        client.DefaultRequestHeaders.Add(Tenant.Header, tenant);
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    /// <summary>One value from the service's database (its schema is on the search path).</summary>
    public async Task<T> Scalar<T>(string schema, string sql, params (string Name, object Value)[] args)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Isolation.Postgres) { SearchPath = schema }.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        foreach (var (argName, value) in args)
        {
            cmd.Parameters.AddWithValue(argName, value);
        }
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(Environments.Production);
        builder.UseContentRoot(Path.Combine(Contacts.Dev.Pipeline.LocalPipeline.RepositoryRoot, "services", _project));
        builder.ConfigureLogging(logging => logging.ClearProviders());
        builder.UseSetting("ConnectionStrings:postgres", Isolation.Postgres);
        builder.UseSetting("ConnectionStrings:rabbitmq", Isolation.RabbitMq);
        builder.UseSetting("Internal:Key", InternalKey);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
