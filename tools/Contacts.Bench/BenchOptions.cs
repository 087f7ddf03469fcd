using System.Globalization;

namespace Contacts.Bench;

/// <summary>What one benchmark run does; every size has a flag, the defaults keep a run to a few minutes.</summary>
public sealed record BenchOptions
{
    public int Customers { get; init; } = 2000;
    public int ContactsPerCustomer { get; init; } = 5;
    /// <summary>Requests in flight in the closed loop (send as fast as the gateway accepts).</summary>
    public int Concurrency { get; init; } = 32;
    /// <summary>
    /// The kinds of push in the closed loop, one burst each, in this order: events per request, 1 posting single events to
    /// /v1/events, more using /v1/events/batch. By default batches of 100, then single events.
    /// </summary>
    public IReadOnlyList<int> Batches { get; init; } = [100, 1];
    public int LatencySeconds { get; init; } = 30;
    /// <summary>The open-loop rate; by default half the e2e rate just measured.</summary>
    public double? LatencyRate { get; init; }
    public int RawMessages { get; init; } = 20_000;
    /// <summary>Longest wait for the pipeline to score what was accepted, counted from the last progress.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public bool Profile { get; init; }
    /// <summary>PostgreSQL with fsync on, as tools/run keeps it; off only when asked.</summary>
    public bool Fsync { get; init; } = true;
    public string Out { get; init; } = "TestResults/bench.json";
    /// <summary>Settings for every service (KEY=VALUE, as environment variables), to compare tunings without a rebuild.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    /// <summary>Extra Npgsql connection string keywords for the services (e.g. "Max Auto Prepare=20").</summary>
    public string? Npgsql { get; init; }
    /// <summary>Instead of the throughput run: the context read's latency with this many customers stored (issue 9's bench line).</summary>
    public int? ContextCustomers { get; init; }
    /// <summary>What the context run reads: "context" (--context) or "brief" (--brief).</summary>
    public string ContextRead { get; init; } = "context";
    /// <summary>In the context run, how many customers go through the pipeline; the rest are SQL copies of them.</summary>
    public int ContextThroughPipeline { get; init; } = 5000;
    /// <summary>Instances of identity and effort (the stages that partition by customer); the others run one.</summary>
    public int Instances { get; init; } = 1;

    public int Events => Customers * ContactsPerCustomer;

    public const string Usage = """
        usage: tools/bench [options]
          --customers N          customers in each burst of the throughput run (default 2000)
          --contacts N           contacts per customer, over rotating channels, identifiers arriving piecemeal (default 5)
          --events N             total events in the throughput run (sets --customers to N / contacts)
          --concurrency N        requests in flight in the closed loop (default 32)
          --batch N              events per request in the closed loop, one kind only; 1 = single events
                                 (default: a burst of batches of 100, then a burst of single events, each printed)
          --latency-seconds N    length of the open-loop latency run (default 30; 0 skips it)
          --rate N               open-loop rate in contacts/s (default: half the measured e2e rate)
          --raw-messages N       messages for the raw broker measurement (default 20000)
          --stall-seconds N      give up waiting for scores after N s without progress (default 60)
          --profile              enable pg_stat_statements and report the top statements per service
          --no-fsync             PostgreSQL without fsync (faster, not what tools/run does)
          --out PATH             where the JSON goes (default TestResults/bench.json)
          --env KEY=VALUE        a setting for every service (repeatable), e.g. --env RabbitMq__PrefetchCount=16
          --npgsql "K=V;..."     Npgsql connection string keywords added for every service, e.g. "Max Auto Prepare=20"
          --instances N          instances of identity and effort (default 1); CPU is summed and RSS the largest over them
          --context N            instead: p50/p95/p99 of GET /v1/customers/{id}/context with N customers stored (e.g. 100000)
          --brief N              instead: p50/p95/p99 of GET /v1/customers/{id}/brief with N customers stored (e.g. 100000)
          --context-pipeline N   of those, how many go through the pipeline; the rest are SQL copies (default 5000)
        tools/bench --identity [--contacts N] [--concurrency C] [--set S]
                                 identity's cost per contact with 10,000 and with 100,000 customers stored, stitched
                                 in sets of S as the batch consumer does (default 100; 1 stitches each alone)
        tools/bench --effort [--history N] [--samples N]
                                 effort's cost per contact for a customer with 10 and with N (default 10000) past contacts
        """;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture) is var n and >= 0 ? n : throw new ArgumentException($"{args[i]} must be >= 0");
            options = args[i] switch
            {
                "--customers" => options with { Customers = Math.Max(1, Int()) },
                "--contacts" => options with { ContactsPerCustomer = Math.Max(1, Int()) },
                "--events" => options with { Customers = Math.Max(1, Int() / options.ContactsPerCustomer) },
                "--concurrency" => options with { Concurrency = Math.Max(1, Int()) },
                "--batch" => options with { Batches = [Math.Clamp(Int(), 1, 500)] },
                "--latency-seconds" => options with { LatencySeconds = Int() },
                "--rate" => options with { LatencyRate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--raw-messages" => options with { RawMessages = Math.Max(64, Int()) },
                "--stall-seconds" => options with { StallTimeout = TimeSpan.FromSeconds(Math.Max(5, Int())) },
                "--profile" => options with { Profile = true },
                "--no-fsync" => options with { Fsync = false },
                "--out" => options with { Out = Next() },
                "--env" => Next().Split('=', 2) is [var k, var v] && k.Length > 0
                    ? options with { Environment = new Dictionary<string, string>(options.Environment) { [k] = v } }
                    : throw new ArgumentException("--env needs KEY=VALUE"),
                "--npgsql" => options with { Npgsql = Next() },
                "--instances" => options with { Instances = Math.Clamp(Int(), 1, 4) },
                "--context" => options with { ContextCustomers = Math.Max(1, Int()) },
                "--brief" => options with { ContextCustomers = Math.Max(1, Int()), ContextRead = "brief" },
                "--context-pipeline" => options with { ContextThroughPipeline = Math.Max(1, Int()) },
                _ => throw new ArgumentException($"unknown option {args[i]}\n{Usage}"),
            };
        }
        return options;
    }
}
