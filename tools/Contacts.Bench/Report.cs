using System.Text.Json.Serialization;

namespace Contacts.Bench;

/// <summary>Percentiles of one latency, in milliseconds (nearest rank).</summary>
public sealed record Percentiles(int Count, double P50, double P95, double P99, double Max)
{
    public static Percentiles Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        double At(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Percentiles(sorted.Length, At(0.50), At(0.95), At(0.99), sorted.Length == 0 ? double.NaN : sorted[^1]);
    }

    public string Line => Count == 0 ? "no samples" : $"p50 {P50:0} ms, p95 {P95:0} ms, p99 {P99:0} ms";
}

public sealed record ThroughputResult(
    int Sent,
    int AcceptedByGateway,
    int AcceptedByIngestion,
    int Attributed,
    int Scored,
    int Alerts,
    double SendSeconds,
    double GatewayAcceptedPerSecond,
    double E2eSeconds,
    double E2eContactsPerSecond,
    double IdentityDoneAfterSeconds,
    double EffortDoneAfterSeconds,
    double RawBrokerMessagesPerSecond,
    double Ratio,
    double RawBrokerBeforeBurst,
    double RawBrokerAfterBurst,
    Percentiles AcceptedToScoredInBurst);

public sealed record LatencyResult(
    double RateContactsPerSecond,
    int Sent,
    int Accepted,
    int Scored,
    int Alerts,
    int LateSends,
    Percentiles AcceptedToAttributed,
    Percentiles AcceptedToScored,
    Percentiles AcceptedToAlertDelivered,
    IReadOnlyDictionary<string, Percentiles> Stages);

public sealed record ServiceResult(double PeakRssMb, double CpuSecondsPer1000Contacts, double PgTransactionsPerContact, double CpuSeconds, long PgTransactions);

/// <summary>CPU of what the services stand on, over the same burst: PostgreSQL, RabbitMQ, and the whole machine (load generator included).</summary>
public sealed record ServerResult(double CpuSecondsPer1000Contacts, double CpuSeconds);

public sealed record ProfileResult(IReadOnlyList<StatementCost> Statements, IReadOnlyDictionary<string, double> LockWaitSamples);

/// <summary>One kind of push in the throughput run: its rate, and each service's and server's cost per contact over it.</summary>
public sealed record BurstResult(
    int Batch,
    ThroughputResult Throughput,
    IReadOnlyDictionary<string, ServiceResult> Services,
    IReadOnlyDictionary<string, ServerResult> Servers);

public sealed record BenchReport(
    DateTimeOffset StartedAt,
    string? Commit,
    int Cores,
    string LoadAverageAtStart,
    string LoadAverageAtEnd,
    BenchOptions Options,
    IReadOnlyList<BurstResult> Bursts,
    LatencyResult? Latency,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProfileResult? Profile);
