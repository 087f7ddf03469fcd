using System.Text.Json;
using System.Text.RegularExpressions;

namespace Contacts.UnitTests.Documentation;

/// <summary>
/// The README and docs/ stay honest as the code moves: every relative link and #anchor in them resolves, every operation
/// of the public API document and every alert webhook type is described in them, and every metric the code creates is
/// in the operations guide.
/// </summary>
public sealed partial class DocumentationTests
{
    private static readonly string Root = RepositoryRoot();

    private static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Contacts.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("no Contacts.sln above the test's folder");
        }
        return root.FullName;
    }

    private static IReadOnlyList<string> MarkdownFiles() =>
        [Path.Combine(Root, "README.md"), .. Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal)];

    /// <summary>Every page, with code blocks and backticks removed, so "`GET` `/v1/x`" reads as "GET /v1/x".</summary>
    private static string AllProse() =>
        string.Join("\n", MarkdownFiles().Select(File.ReadAllText)).Replace("`", "", StringComparison.Ordinal);

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex LinkTarget();

    [GeneratedRegex(@"^(#{1,6})\s+(.*?)\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\p{L}\p{Nd}_\- ]")]
    private static partial Regex NotInSlug();

    [GeneratedRegex(@"Create(?:Counter|Histogram|UpDownCounter|Gauge|ObservableGauge|ObservableCounter|ObservableUpDownCounter)(?:<[^>]+>)?\(\s*""([a-z0-9_.]+)""")]
    private static partial Regex MetricCreation();

    /// <summary>GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered.</summary>
    private static HashSet<string> Anchors(string file)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var inCode = false;
        foreach (var line in File.ReadLines(file))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inCode = !inCode;
                continue;
            }
            if (!inCode && Heading().Match(line) is { Success: true } heading)
            {
                var slug = NotInSlug().Replace(heading.Groups[2].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-');
                var count = seen.GetValueOrDefault(slug);
                anchors.Add(count == 0 ? slug : $"{slug}-{count}");
                seen[slug] = count + 1;
            }
        }
        return anchors;
    }

    [Fact]
    public void Every_relative_link_and_anchor_in_the_readme_and_docs_resolves()
    {
        var broken = new List<string>();
        var checkedLinks = 0;
        foreach (var file in MarkdownFiles())
        {
            var prose = CodeBlock().Replace(File.ReadAllText(file), "");
            foreach (var target in LinkTarget().Matches(prose).Select(m => m.Groups[1].Value))
            {
                if (target.Contains(':', StringComparison.Ordinal))
                {
                    continue; // https:, mailto: and the like: not ours to check
                }
                checkedLinks++;
                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var (path, fragment) = hash < 0 ? (target, "") : (target[..hash], target[(hash + 1)..]);
                var destination = path.Length == 0 ? file : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, path));
                var from = Path.GetRelativePath(Root, file);
                if (!File.Exists(destination) && !Directory.Exists(destination))
                {
                    broken.Add($"{from}: {target} (no such file)");
                }
                else if (fragment.Length > 0 && !Anchors(destination).Contains(fragment))
                {
                    broken.Add($"{from}: {target} (no such heading)");
                }
            }
        }
        Assert.True(checkedLinks >= 50, $"only {checkedLinks} relative links found: is the link pattern still right?");
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void Every_operation_of_the_public_API_and_every_alert_webhook_is_described_in_the_docs()
    {
        // The committed document; OpenApiDocumentTests keep it equal to what the endpoints generate.
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "gateway", "Contacts.Gateway", "OpenApi", "openapi-v1.json")));
        var prose = AllProse();
        string[] methods = ["get", "put", "post", "delete", "patch"];
        var operations = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(op => methods.Contains(op.Name)).Select(op => $"{op.Name.ToUpperInvariant()} {path.Name}"))
            .ToList();
        var webhooks = document.RootElement.GetProperty("webhooks").EnumerateObject().Select(w => w.Name).ToList();

        Assert.True(operations.Count >= 30, $"only {operations.Count} operations in the document");
        Assert.NotEmpty(webhooks);
        // "GET /v1/customers" must stand on its own, not only as the start of "GET /v1/customers/{id}".
        var missing = operations.Where(op => !Regex.IsMatch(prose, Regex.Escape(op) + @"(?![\w/{}-])"))
            .Concat(webhooks.Where(w => !prose.Contains(w, StringComparison.Ordinal)).Select(w => $"webhook {w}"))
            .ToList();
        Assert.True(missing.Count == 0, "not described in README.md or docs/ (write each as \"METHOD /path\"):\n" + string.Join("\n", missing));
    }

    [Fact]
    public void Every_metric_the_code_creates_is_in_the_operations_guide()
    {
        var sources = new[] { "services", "gateway" }
            .SelectMany(folder => Directory.GetFiles(Path.Combine(Root, folder), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        var metrics = sources.SelectMany(f => MetricCreation().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var guide = File.ReadAllText(Path.Combine(Root, "docs", "operations.md"));

        Assert.True(metrics.Count >= 8, $"only {metrics.Count} metrics found in the code: is the pattern still right? ({string.Join(", ", metrics)})");
        var missing = metrics.Where(m => !guide.Contains($"`{m}`", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "metrics missing from docs/operations.md:\n" + string.Join("\n", missing));
    }
}
