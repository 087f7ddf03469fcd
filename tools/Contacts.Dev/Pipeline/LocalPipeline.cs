using Contacts.Dev.Servers;

namespace Contacts.Dev.Pipeline;

/// <summary>Where the pipeline's services find their broker, database and CRM, and what they are seeded with.</summary>
public sealed record PipelineSettings
{
    /// <summary>Npgsql connection string including the database; each service uses its own schema in it.</summary>
    public required string Postgres { get; init; }

    /// <summary>amqp://user:password@host:port/vhost</summary>
    public required string RabbitMq { get; init; }

    public required string LogDirectory { get; init; }

    /// <summary>Tenant API keys the gateway stores (as hashes) at start-up.</summary>
    public IReadOnlyList<(string Tenant, string Key)> ApiKeys { get; init; } = [];

    /// <summary>The broker's management API, for queue subscriptions (alerting creates their queues and users there); none when null.</summary>
    public string? RabbitMqManagement { get; init; }

    public string? WebhookUrl { get; init; }
    public string? WebhookSecret { get; init; }

    /// <summary>Shared by the gateway and the services so that only the gateway can name a tenant.</summary>
    public string InternalKey { get; init; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>Extra settings for every service, as environment variables (e.g. "RabbitMq__QuorumQueues").</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>The operator key for the gateway's /admin API; switched off when null.</summary>
    public string? OperatorKey { get; init; }

    /// <summary>The port the gateway listens on; a free one when null.</summary>
    public int? GatewayPort { get; init; }
}

/// <summary>
/// The four services and the gateway as real child processes, wired to each other, the broker and the database:
/// what `tools/run` starts for a developer, and what the end-to-end and reliability tests start and break.
/// </summary>
public sealed class LocalPipeline(PipelineSettings settings) : IAsyncDisposable
{
    public const string Gateway = "gateway";
    public const string Ingestion = "ingestion";
    public const string Identity = "identity";
    public const string Effort = "effort";
    public const string Alerting = "alerting";

    public static readonly IReadOnlyList<string> Services = [Ingestion, Identity, Effort, Alerting, Gateway];

    private readonly Dictionary<(string Service, int Instance), ServiceProcess> _processes = [];
    private readonly Dictionary<(string Service, int Instance), IReadOnlyDictionary<string, string?>> _overrides = [];

    public PipelineSettings Settings => settings;

    public ServiceProcess this[string service, int instance = 0] => _processes[(service, instance)];

    public Uri GatewayAddress => this[Gateway].BaseAddress;

    /// <summary>Starts one instance of each named service (all five when none are named), in parallel, and waits until each is ready.</summary>
    public async Task StartAsync(IEnumerable<string>? services = null, CancellationToken ct = default)
    {
        var names = (services ?? Services).ToList();
        // The gateway needs the addresses of every service, so their ports are fixed before it is created.
        foreach (var name in names.Where(n => n != Gateway))
        {
            Add(name);
        }
        foreach (var upstream in Services.Where(n => n != Gateway))
        {
            Add(upstream);
        }
        if (names.Contains(Gateway))
        {
            Add(Gateway);
        }
        await Task.WhenAll(names.Select(n => this[n].StartAsync(ct)));
    }

    /// <summary>Creates (without starting) another instance of a service; instance 0 of each is created by StartAsync.</summary>
    public ServiceProcess Add(string service, int instance = 0, IReadOnlyDictionary<string, string?>? environment = null) =>
        _processes.TryGetValue((service, instance), out var existing) ? existing : Create(service, instance, environment, port: null);

    /// <summary>Replaces a stopped instance with a new process on the same port, its settings overridden by these (e.g. to lift a fault).</summary>
    public async Task<ServiceProcess> Recreate(string service, int instance, IReadOnlyDictionary<string, string?> overrides)
    {
        var old = this[service, instance];
        await old.DisposeAsync();
        _processes.Remove((service, instance));
        var merged = new Dictionary<string, string?>(_overrides.GetValueOrDefault((service, instance)) ?? new Dictionary<string, string?>());
        foreach (var (key, value) in overrides)
        {
            merged[key] = value;
        }
        return Create(service, instance, merged, old.Port);
    }

    private ServiceProcess Create(string service, int instance, IReadOnlyDictionary<string, string?>? environment, int? port)
    {
        port ??= service == Gateway && settings.GatewayPort is { } fixedPort ? fixedPort : FreePort.Next();
        if (environment is not null)
        {
            _overrides[(service, instance)] = environment;
        }
        var env = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__postgres"] = settings.Postgres,
            ["ConnectionStrings__rabbitmq"] = settings.RabbitMq,
            ["Internal__Key"] = settings.InternalKey,
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            ["Logging__LogLevel__System.Net.Http"] = "Warning",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
        };
        switch (service)
        {
            case Gateway:
                foreach (var upstream in Services.Where(n => n != Gateway))
                {
                    env[$"Gateway__Services__{upstream}"] = this[upstream].BaseAddress.ToString();
                }
                env["Gateway__OperatorKey"] = settings.OperatorKey;
                for (var i = 0; i < settings.ApiKeys.Count; i++)
                {
                    env[$"Gateway__Keys__{i}__Tenant"] = settings.ApiKeys[i].Tenant;
                    env[$"Gateway__Keys__{i}__Key"] = settings.ApiKeys[i].Key;
                }
                break;
            case Alerting:
                env["Alerting__Webhook__Url"] = settings.WebhookUrl;
                env["Alerting__Webhook__Secret"] = settings.WebhookSecret;
                env["Alerting__Amqp__ManagementUrl"] = settings.RabbitMqManagement;
                break;
        }
        foreach (var (key, value) in settings.Environment)
        {
            env[key] = value;
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            env[key] = value;
        }
        Directory.CreateDirectory(settings.LogDirectory);
        var process = new ServiceProcess(instance == 0 ? service : $"{service}-{instance}", DllOf(service), port.Value, env,
            Path.Combine(settings.LogDirectory, $"{service}-{instance}.log"));
        _processes[(service, instance)] = process;
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        // The gateway first, so nothing new comes in while the rest shut down.
        foreach (var process in _processes.OrderBy(p => p.Key.Service == Gateway ? 0 : 1).Select(p => p.Value))
        {
            await process.DisposeAsync();
        }
    }

    /// <summary>The built service, from the same configuration (Debug or Release) as this assembly.</summary>
    public static string DllOf(string service)
    {
        var project = $"Contacts.{char.ToUpperInvariant(service[0])}{service[1..]}";
        var folder = service == Gateway ? "gateway" : "services";
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var dll = Path.Combine(RepositoryRoot, folder, project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(dll)
            ? dll
            : throw new FileNotFoundException($"{dll} is not built; run `dotnet build Contacts.sln -c {configuration}` first", dll);
    }

    /// <summary>The checkout this tool runs from: the nearest folder above it holding Contacts.sln.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Contacts.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"Contacts.sln not found above {AppContext.BaseDirectory}");
    }
}
