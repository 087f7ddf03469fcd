using System.Diagnostics;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Contacts.UnitTests.Deployment;

/// <summary>
/// The production alert rules (k8s/overlays/production/monitoring/prometheus-rules.yaml): Prometheus accepts them
/// (`promtool check rules` on the PrometheusRule's groups, exactly as shipped), and every alert has a threshold, a `for:`
/// and a runbook entry in docs/operations.md that shows the PromQL confirming it.
/// </summary>
[Trait("Category", "Deployment")]
public sealed partial class MonitoringTests
{
    private static string Monitoring => Path.Combine(RepositoryRoot, "k8s", "overlays", "production", "monitoring");

    [Fact]
    public void Promtool_accepts_the_alert_rule_groups()
    {
        // promtool checks a plain rule file (groups: ...); the PrometheusRule carries the same groups under spec.
        var groups = RuleGroups();
        var file = Path.Combine(Path.GetTempPath(), $"contacts-rules-{Guid.NewGuid():N}.yaml");
        var document = new YamlMappingNode { { "groups", groups } };
        using (var writer = new StreamWriter(file))
        {
            new YamlStream(new YamlDocument(document)).Save(writer, assignAnchors: false);
        }
        try
        {
            var (exitCode, output) = Run("promtool", "check", "rules", file);
            Assert.True(exitCode == 0, $"promtool check rules failed ({exitCode}):\n{output}");
            Assert.Contains($"SUCCESS: {Rules().Count} rules found", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Every_alert_has_a_threshold_a_for_and_a_runbook_entry_with_the_PromQL_that_confirms_it()
    {
        var guide = File.ReadAllLines(Path.Combine(RepositoryRoot, "docs", "operations.md"));
        var rules = Rules();
        Assert.True(rules.Count >= 6, $"only {rules.Count} alert rules");
        foreach (var rule in rules)
        {
            var name = rule["alert"].ToString();
            var expr = rule["expr"].ToString();
            Assert.True(Threshold().IsMatch(expr) || expr.Contains("absent(", StringComparison.Ordinal), $"{name} compares with no threshold: {expr}");
            Assert.True(rule.Children.TryGetValue(new YamlScalarNode("for"), out var forNode) && Duration().IsMatch(forNode.ToString())
                && forNode.ToString() != "0m", $"{name} has no for:");
            var runbook = ((YamlMappingNode)rule["annotations"])["runbook"].ToString();
            Assert.Equal($"docs/operations.md#alert-{name.ToLowerInvariant()}", runbook);

            // The entry: the heading "#### Alert: Name", then prose with a ```promql block, up to the next heading.
            var start = Array.FindIndex(guide, l => l.TrimStart('#').Trim() == $"Alert: {name}" && l.StartsWith('#'));
            Assert.True(start >= 0, $"docs/operations.md has no heading 'Alert: {name}' for {runbook}");
            var entry = guide.Skip(start + 1).TakeWhile(l => !l.StartsWith('#')).ToList();
            Assert.Contains(entry, l => l.Trim() == "```promql");
            Assert.True(entry.Count(l => l.Trim().Length > 0 && !l.StartsWith("```", StringComparison.Ordinal)) >= 3,
                $"the runbook entry of {name} says too little (what it means, the PromQL that confirms it, what to do)");
        }
    }

    private static List<YamlMappingNode> Rules() =>
        [.. RuleGroups().Cast<YamlMappingNode>().SelectMany(g => ((YamlSequenceNode)g["rules"]).Cast<YamlMappingNode>())];

    private static YamlSequenceNode RuleGroups()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(Monitoring, "prometheus-rules.yaml"))));
        var root = (YamlMappingNode)yaml.Documents.Single().RootNode;
        Assert.Equal("PrometheusRule", root["kind"].ToString());
        return (YamlSequenceNode)((YamlMappingNode)root["spec"])["groups"];
    }

    [GeneratedRegex(@"(>|<|==|!=)\s*[0-9]")]
    private static partial Regex Threshold();

    [GeneratedRegex(@"^[0-9]+[smhd]$")]
    private static partial Regex Duration();

    private static (int ExitCode, string Output) Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{command} is needed to check the alert rules: apt-get install prometheus", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Result + error);
        }
    }

    private static string RepositoryRoot { get; } = FindRoot();

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
