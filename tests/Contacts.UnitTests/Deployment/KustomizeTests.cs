using System.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace Contacts.UnitTests.Deployment;

/// <summary>
/// Builds every k8s overlay with `kubectl kustomize`, as a deployer would, and checks on the rendered manifests what
/// production depends on: probes, resources, a locked-down pod, autoscaling and disruption budgets, only the gateway
/// reachable from outside, the operators' clusters, and secrets by reference.
/// </summary>
[Trait("Category", "Deployment")]
public sealed class KustomizeTests
{
    private static readonly string[] Services = ["ingestion", "identity", "effort", "alerting", "gateway"];

    public static TheoryData<string> Overlays() => ["dev", "production"];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_service_has_probes_resources_and_a_locked_down_pod(string overlay)
    {
        var deployments = Render(overlay).Where(d => Kind(d) == "Deployment").ToList();
        Assert.Equal(Services.Order(), deployments.Select(Name).Order());
        foreach (var deployment in deployments)
        {
            var pod = Path(deployment, "spec", "template", "spec");
            Assert.Equal("true", Scalar(pod, "securityContext", "runAsNonRoot"));
            var container = Assert.Single(Sequence(pod, "containers"));
            Assert.Equal("/health/live", Scalar(container, "startupProbe", "httpGet", "path"));
            Assert.Equal("/health/ready", Scalar(container, "readinessProbe", "httpGet", "path"));
            Assert.Equal("/health/live", Scalar(container, "livenessProbe", "httpGet", "path"));
            Assert.NotNull(Scalar(container, "resources", "requests", "cpu"));
            Assert.NotNull(Scalar(container, "resources", "requests", "memory"));
            Assert.NotNull(Scalar(container, "resources", "limits", "memory"));
            Assert.Equal("true", Scalar(container, "securityContext", "readOnlyRootFilesystem"));
            Assert.Equal("false", Scalar(container, "securityContext", "allowPrivilegeEscalation"));
            Assert.Contains(Sequence(container, "ports"), p => Scalar(p, "name") == "metrics");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_service_scales_and_has_a_disruption_budget(string overlay)
    {
        var docs = Render(overlay);
        foreach (var service in Services)
        {
            Assert.Contains(docs, d => Kind(d) == "HorizontalPodAutoscaler" && Scalar(d, "spec", "scaleTargetRef", "name") == service);
            Assert.Contains(docs, d => Kind(d) == "PodDisruptionBudget"
                && Scalar(d, "spec", "selector", "matchLabels", "app.kubernetes.io/name") == service);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Only_the_gateway_is_reachable_from_outside(string overlay)
    {
        var policies = Render(overlay).Where(d => Kind(d) == "NetworkPolicy").ToList();
        var denyAll = Assert.Single(policies, p => Path(p, "spec", "podSelector") is YamlMappingNode { Children.Count: 0 }
            && Path(p, "spec", "ingress") is null);
        Assert.Contains(Sequence(denyAll, "spec", "policyTypes"), t => t.ToString() == "Ingress");
        // A rule with no 'from' admits any source: only the gateway's policy may have one.
        var open = policies.Where(p => Sequence(p, "spec", "ingress").Any(rule => Path(rule, "from") is null)).ToList();
        var gateway = Assert.Single(open);
        Assert.Equal("gateway", Scalar(gateway, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name"));
    }

    [Fact]
    public void Production_runs_on_the_operators_clusters_with_quorum_queues_and_secrets_by_reference()
    {
        var docs = Render("production");
        Assert.Equal("3", Scalar(Assert.Single(docs, d => Kind(d) == "RabbitmqCluster"), "spec", "replicas"));
        Assert.True(int.Parse(Scalar(Assert.Single(docs, d => Kind(d) == "Cluster"), "spec", "instances")!) >= 3);
        var config = Assert.Single(docs, d => Kind(d) == "ConfigMap" && Name(d) == "contacts-config");
        Assert.Equal("true", Scalar(config, "data", "RabbitMq__QuorumQueues"));
        Assert.DoesNotContain(docs, d => Kind(d) == "Secret");
        Assert.Contains(docs, d => Kind(d) == "ServiceMonitor");
        foreach (var deployment in docs.Where(d => Kind(d) == "Deployment"))
        {
            var env = Sequence(Assert.Single(Sequence(deployment, "spec", "template", "spec", "containers")), "env").ToList();
            foreach (var name in new[] { "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "Internal__Key" })
            {
                var variable = Assert.Single(env, e => Scalar(e, "name") == name);
                Assert.Null(Scalar(variable, "value"));
                Assert.NotNull(Scalar(variable, "valueFrom", "secretKeyRef", "name"));
            }
            Assert.True(int.Parse(Scalar(deployment, "spec", "replicas")!) >= 2, $"{Name(deployment)} has fewer than 2 replicas");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Queue_subscriptions_work_and_only_alerting_holds_the_brokers_administrator(string overlay)
    {
        var docs = Render(overlay);
        Assert.Empty(Sequence(Assert.Single(docs, d => Kind(d) == "User" && Name(d) == "contacts-services"), "spec", "tags"));
        Assert.Equal("contacts-services", Scalar(Assert.Single(docs, d => Kind(d) == "Permission"), "spec", "userReference", "name"));
        foreach (var deployment in docs.Where(d => Kind(d) == "Deployment"))
        {
            var env = Sequence(Assert.Single(Sequence(deployment, "spec", "template", "spec", "containers")), "env").ToList();
            var secrets = env.Select(e => Scalar(e, "valueFrom", "secretKeyRef", "name")).OfType<string>().ToList();
            var management = env.SingleOrDefault(e => Scalar(e, "name") == "Alerting__Amqp__ManagementUrl");
            if (Name(deployment) == "alerting")
            {
                Assert.StartsWith("http://$(RABBITMQ_ADMIN_USER):$(RABBITMQ_ADMIN_PASSWORD)@contacts-rabbitmq:15672", Scalar(management, "value"));
                // Defined before the address that names them, as Kubernetes expands only earlier variables.
                Assert.True(env.FindIndex(e => Scalar(e, "name") == "RABBITMQ_ADMIN_PASSWORD") < env.IndexOf(management!));
            }
            else
            {
                Assert.Null(management);
                Assert.DoesNotContain("contacts-rabbitmq-default-user", secrets);
            }
            Assert.Equal("contacts-services-user-credentials",
                Scalar(Assert.Single(env, e => Scalar(e, "name") == "RABBITMQ_PASSWORD"), "valueFrom", "secretKeyRef", "name"));
        }
    }

    [Fact]
    public void Production_ships_the_alert_rules_and_the_Grafana_dashboard_for_its_sidecar()
    {
        var docs = Render("production");
        var rules = Assert.Single(docs, d => Kind(d) == "PrometheusRule");
        Assert.Equal("monitoring.coreos.com/v1", Scalar(rules, "apiVersion"));
        Assert.NotEmpty(Sequence(rules, "spec", "groups"));
        var dashboard = Assert.Single(docs, d => Kind(d) == "ConfigMap" && Scalar(d, "metadata", "labels", "grafana_dashboard") == "1");
        var json = Scalar(dashboard, "data", "contacts-dashboard.json");
        Assert.NotNull(json);
        using var parsed = System.Text.Json.JsonDocument.Parse(json);
        Assert.Equal("contacts-pipeline", parsed.RootElement.GetProperty("uid").GetString());
        Assert.True(parsed.RootElement.GetProperty("panels").GetArrayLength() >= 10);
        // Shipped as written: the dashboard in the ConfigMap is the file in the repository.
        Assert.Equal(File.ReadAllText(System.IO.Path.Combine(RepositoryRoot, "k8s", "overlays", "production", "monitoring", "contacts-dashboard.json")), json);
        Assert.DoesNotContain(Render("dev"), d => Kind(d) == "PrometheusRule");
    }

    [Fact]
    public void Production_tells_the_gateway_the_public_https_url_its_ingress_serves_so_twilio_signatures_match()
    {
        var docs = Render("production");
        var tls = Assert.Single(Sequence(Assert.Single(docs, d => Kind(d) == "Ingress"), "spec", "tls"));
        var host = ((YamlScalarNode)Assert.Single(Sequence(tls, "hosts"))).Value;
        var gateway = Assert.Single(docs, d => Kind(d) == "Deployment" && Name(d) == "gateway");
        var env = Sequence(Assert.Single(Sequence(gateway, "spec", "template", "spec", "containers")), "env");
        Assert.Equal($"https://{host}", Scalar(Assert.Single(env, e => Scalar(e, "name") == "Gateway__PublicBaseUrl"), "value"));
    }

    private static List<YamlNode> Render(string overlay)
    {
        var start = new ProcessStartInfo("kubectl", ["kustomize", System.IO.Path.Combine(RepositoryRoot, "k8s", "overlays", overlay)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("kubectl is needed to build the k8s overlays: apt-get install kubernetes-client (or kubectl)", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"kubectl kustomize {overlay} failed: {error}");
            var stream = new YamlStream();
            stream.Load(new StringReader(output.Result));
            return [.. stream.Documents.Select(d => d.RootNode)];
        }
    }

    private static string Kind(YamlNode doc) => Scalar(doc, "kind") ?? "";

    private static string Name(YamlNode doc) => Scalar(doc, "metadata", "name") ?? "";

    private static YamlNode? Path(YamlNode? node, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out node))
            {
                return null;
            }
        }
        return node;
    }

    private static string? Scalar(YamlNode? node, params string[] keys) => (Path(node, keys) as YamlScalarNode)?.Value;

    private static IEnumerable<YamlNode> Sequence(YamlNode? node, params string[] keys) =>
        Path(node, keys) is YamlSequenceNode sequence ? sequence.Children : [];

    private static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Contacts.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"Contacts.sln not found above {AppContext.BaseDirectory}");
    }
}
