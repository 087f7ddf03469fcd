using System.Diagnostics;
using Contacts.Dev.Pipeline;
using Contacts.Dev.Servers;
using Contacts.IntegrationTests.Infrastructure;

namespace Contacts.IntegrationTests.Monitoring;

/// <summary>
/// The production dashboard and alert rules name metrics by their Prometheus names, which nothing checks at deploy time:
/// a panel or a rule that names a metric no service exports shows nothing and never fires. So after the demo journey
/// through the gateway, every service's /metrics (on its own metrics port, as in k8s) is scraped, and every metric and
/// label a panel or a rule names must be there.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class MonitoringMetricsTests(ServersFixture servers, ITestOutputHelper output)
{
    /// <summary>Made by Prometheus itself at each scrape, never by a service.</summary>
    private static readonly HashSet<string> ScrapeMetrics = ["up"];

    /// <summary>Added by Prometheus to every series from the target it scraped (a ServiceMonitor's job, pod, ...).</summary>
    private static readonly HashSet<string> TargetLabels = ["job", "instance", "namespace", "pod", "service", "container", "endpoint"];

    [Fact]
    public async Task Every_metric_and_label_the_Grafana_dashboard_and_the_alert_rules_name_is_exported_after_the_demo_journey()
    {
        var took = Stopwatch.StartNew();
        var queries = MonitoringQueries.Load(LocalPipeline.RepositoryRoot);
        Assert.NotEmpty(queries);
        // A query whose names the parser missed would pass unchecked: every panel and rule names at least one metric.
        Assert.All(queries, q => Assert.True(q.Metrics.Count > 0, $"{q.Where}: no metric found in {q.Expression}"));

        // Upstream services first: the gateway is created with their addresses.
        var metricsPorts = LocalPipeline.Services.OrderBy(s => s == LocalPipeline.Gateway).ToDictionary(s => s, _ => FreePort.Next());
        var perService = metricsPorts.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, string?>)new Dictionary<string, string?>
        {
            ["Telemetry__PrometheusPort"] = p.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // The watchdog reports dead letters and restarts at each check: check every second rather than every ten.
            ["RabbitMq__Watchdog__Interval"] = "00:00:01",
        });
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("monitoring"), perService: perService);
        using var http = pipeline.Client();
        foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, idPrefix: "monitoring"))
        {
            await TestPipeline.Push(http, e);
        }
        await TestPipeline.Eventually(() => Task.FromResult(pipeline.Crm.Received.Count > 0), TimeSpan.FromSeconds(120),
            () => Task.FromResult("the stand-in CRM received no alert"));
        output.WriteLine($"pipeline and journey: {took.Elapsed.TotalSeconds:0.0} s");

        // Gauges read the database every 10 s and the watchdog checks every second: scrape until all is there, or a minute.
        using var scraper = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Dictionary<string, Dictionary<string, HashSet<string>>> scraped = [];
        List<string> missing = [];
        await TestPipeline.Eventually(async () =>
        {
            scraped = [];
            foreach (var (service, port) in metricsPorts)
            {
                var body = await scraper.GetStringAsync($"http://127.0.0.1:{port}/metrics");
                scraped[service] = PrometheusText.Series(body);
            }
            missing = Missing(queries, scraped);
            return missing.Count == 0;
        }, TimeSpan.FromSeconds(60), () => Task.FromResult(string.Join("\n", missing)));

        foreach (var name in queries.SelectMany(q => q.Metrics).Distinct().Order(StringComparer.Ordinal))
        {
            var exporters = scraped.Where(s => s.Value.ContainsKey(name)).Select(s => s.Key).ToList();
            output.WriteLine($"{name}: {(ScrapeMetrics.Contains(name) ? "made by Prometheus" : string.Join(", ", exporters))}");
        }
        output.WriteLine($"{queries.Count} queries checked; the test took {took.Elapsed.TotalSeconds:0.0} s");
        Assert.Empty(missing);
    }

    /// <summary>What a query names that no scrape has: a metric no service exports, or a label none of its series carries.</summary>
    private static List<string> Missing(IReadOnlyList<MonitoringQuery> queries, Dictionary<string, Dictionary<string, HashSet<string>>> scraped)
    {
        var missing = new List<string>();
        foreach (var query in queries)
        {
            foreach (var metric in query.Metrics.Where(m => !ScrapeMetrics.Contains(m)))
            {
                var labels = scraped.Values.Where(s => s.ContainsKey(metric)).SelectMany(s => s[metric]).ToHashSet();
                if (!scraped.Values.Any(s => s.ContainsKey(metric)))
                {
                    missing.Add($"{query.Where}: no service exports {metric} ({query.Expression.Trim()})");
                    continue;
                }
                foreach (var label in query.Labels.Where(l => !TargetLabels.Contains(l) && !labels.Contains(l)))
                {
                    missing.Add($"{query.Where}: {metric} has no label {label} (it has {string.Join(", ", labels.Order())})");
                }
            }
        }
        return missing;
    }
}

/// <summary>The Prometheus text exposition format, as far as names go: each metric name with the label names its series carry.</summary>
public static class PrometheusText
{
    public static Dictionary<string, HashSet<string>> Series(string body)
    {
        var series = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var line in body.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var end = line.IndexOfAny(['{', ' ']);
            if (end <= 0)
            {
                continue;
            }
            var labels = series.TryGetValue(line[..end], out var known) ? known : series[line[..end]] = [];
            if (line[end] == '{')
            {
                // name="value",name="value"}: a label name runs from the start or a comma to its '='; values may hold commas.
                var i = end + 1;
                while (i < line.Length && line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    labels.Add(line[i..eq].Trim());
                    i = eq + 2; // past ="
                    while (i < line.Length && line[i] != '"')
                    {
                        i += line[i] == '\\' ? 2 : 1;
                    }
                    i++; // past the closing quote
                    if (i < line.Length && line[i] == ',')
                    {
                        i++;
                    }
                }
            }
        }
        return series;
    }
}
