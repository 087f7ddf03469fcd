using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Contacts.IntegrationTests.Monitoring;

/// <summary>One PromQL expression of the production monitoring, where it is, and the metrics and labels it names.</summary>
public sealed record MonitoringQuery(string Where, string Expression, IReadOnlySet<string> Metrics, IReadOnlySet<string> Labels);

/// <summary>
/// Every PromQL expression of the Grafana dashboard's panels and of the PrometheusRule's alerts, read from the files the
/// production overlay ships (k8s/overlays/production/monitoring), with the metric and label names each one names.
/// </summary>
public static partial class MonitoringQueries
{
    public static string Folder(string repositoryRoot) => Path.Combine(repositoryRoot, "k8s", "overlays", "production", "monitoring");

    public static IReadOnlyList<MonitoringQuery> Load(string repositoryRoot)
    {
        var folder = Folder(repositoryRoot);
        var queries = new List<MonitoringQuery>();
        using (var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "contacts-dashboard.json"))))
        {
            foreach (var panel in Panels(dashboard.RootElement))
            {
                if (!panel.TryGetProperty("targets", out var targets))
                {
                    continue;
                }
                foreach (var target in targets.EnumerateArray())
                {
                    var expr = target.GetProperty("expr").GetString()!;
                    queries.Add(Parse($"panel '{panel.GetProperty("title").GetString()}'", expr));
                }
            }
        }
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(folder, "prometheus-rules.yaml"))));
        var groups = (YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["spec"])["groups"];
        foreach (var rule in groups.Cast<YamlMappingNode>().SelectMany(g => ((YamlSequenceNode)g["rules"]).Cast<YamlMappingNode>()))
        {
            queries.Add(Parse($"alert {rule["alert"]}", rule["expr"].ToString()));
        }
        return queries;
    }

    private static IEnumerable<JsonElement> Panels(JsonElement dashboard)
    {
        foreach (var panel in dashboard.GetProperty("panels").EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var inner))
            {
                foreach (var nested in inner.EnumerateArray())
                {
                    yield return nested;
                }
            }
        }
    }

    private static readonly HashSet<string> Keywords =
        ["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"];

    /// <summary>
    /// The names in a PromQL expression: label names of matchers and of by/without/on/ignoring clauses, and metric names
    /// (identifiers not called as functions and not keywords), once ranges, Grafana variables and strings are set aside.
    /// </summary>
    public static MonitoringQuery Parse(string where, string expression)
    {
        var labels = new HashSet<string>(StringComparer.Ordinal);
        var text = Range().Replace(expression, " ");
        text = GrafanaVariable().Replace(text, " ");
        text = Matchers().Replace(text, m =>
        {
            foreach (Match matcher in Matcher().Matches(m.Groups[1].Value))
            {
                labels.Add(matcher.Groups[1].Value);
            }
            return " ";
        });
        text = Grouping().Replace(text, m =>
        {
            foreach (var label in m.Groups[2].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                labels.Add(label);
            }
            return " ";
        });
        text = StringLiteral().Replace(text, " ");
        var metrics = Identifier().Matches(text).Select(m => m.Value).Where(n => !Keywords.Contains(n.ToLowerInvariant())).ToHashSet(StringComparer.Ordinal);
        return new MonitoringQuery(where, expression, metrics, labels);
    }

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Range();

    [GeneratedRegex(@"\$\{[^}]*\}|\$\w+")]
    private static partial Regex GrafanaVariable();

    [GeneratedRegex(@"\{([^}]*)\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*""(?:[^""\\]|\\.)*""")]
    private static partial Regex Matcher();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"(?<![\w:.])[a-zA-Z_:][\w:]*(?![\w:]|\s*\()")]
    private static partial Regex Identifier();
}
