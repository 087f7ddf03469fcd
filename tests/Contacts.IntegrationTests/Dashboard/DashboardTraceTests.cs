using System.Diagnostics;
using System.Text.RegularExpressions;
using Contacts.Dev.Dashboard;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace Contacts.IntegrationTests.Dashboard;

/// <summary>
/// What a person sees after `tools/run --demo`: the Aspire dashboard, started as tools/run starts it, shows the demo
/// journey's trace from the gateway to the CRM webhook, read in a real browser (Debian's Chromium driven by Playwright),
/// and the page shows no phone number or email of the customer.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed partial class DashboardTraceTests(ServersFixture servers, ITestOutputHelper output)
{
    private const string Phone = "+44 20 7946 0958";
    private const string Email = "Ana.Lima@example.com";

    private static readonly string[] Services =
        [LocalPipeline.Gateway, LocalPipeline.Ingestion, LocalPipeline.Identity, LocalPipeline.Effort, LocalPipeline.Alerting];

    [Fact]
    public async Task The_demo_journeys_trace_shows_every_service_and_the_CRM_webhook_call_with_no_phone_or_email_on_the_page()
    {
        var took = Stopwatch.StartNew();
        // Launched while the pipeline starts: the browser's start costs seconds a loaded machine does not have to spare.
        await using var chromium = new HeadlessChromium(ChromiumPath());
        await using var dashboard = await AspireDashboard.StartAsync(Path.Combine(ServersFixture.LogRoot, "aspire-dashboard"));
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("dashboard"), environment: dashboard.ExporterEnvironment);
        using var http = pipeline.Client();
        foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, Phone, Email))
        {
            await TestPipeline.Push(http, e);
        }

        // The trace to open is the one the CRM was told about: traceparent is 00-{trace id}-{parent span id}-{flags}.
        string[]? traceparent = null;
        await TestPipeline.Eventually(() =>
        {
            traceparent = pipeline.Crm.Received.Select(w => w.Traceparent?.Split('-')).FirstOrDefault(p => p is { Length: 4 });
            return Task.FromResult(traceparent is not null);
        }, TimeSpan.FromSeconds(120), () => Task.FromResult($"the CRM received {pipeline.Crm.Received.Count} webhooks, none with a traceparent"));
        var (traceId, webhookSpanId) = (traceparent![1], traceparent[2]);
        output.WriteLine($"pipeline and journey: {took.Elapsed.TotalSeconds:0.0} s; trace {traceId}, webhook span {webhookSpanId}");

        // Tall enough for every span of the trace beside the details of the webhook call, so the screenshot shows them all.
        var page = await chromium.NewPage(width: 1600, height: 1700);

        // Services export every second, so the last spans may reach the dashboard after the webhook: reload until all are there.
        // Each row of the trace's grid is titled "resource: span name".
        IReadOnlyList<string> rows = [];
        await TestPipeline.Eventually(async () =>
        {
            rows = await SpanRows(page, dashboard.TracePage(traceId));
            return Services.All(s => rows.Any(r => r.StartsWith($"{s}: ", StringComparison.Ordinal)))
                && rows.Any(r => r.StartsWith("alerting: HTTP POST", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(30), () => Task.FromResult($"the trace's rows on the dashboard: {string.Join(" | ", rows)}"));
        var pages = new List<(string What, string Html, string Text)>
        {
            ("the trace", await page.ContentAsync(), await page.InnerTextAsync("body")),
        };

        // The span the CRM named as its caller, opened in the details pane: the alerting service's POST to the CRM's URL.
        await page.GotoAsync(new Uri(dashboard.TracePage(traceId), $"?spanId={webhookSpanId}").ToString());
        var crmUrl = pipeline.Crm.Url.ToString();
        var details = "";
        await TestPipeline.Eventually(async () =>
        {
            details = await page.InnerTextAsync("body");
            return details.Contains(webhookSpanId, StringComparison.Ordinal) && details.Contains(crmUrl, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(15), () => Task.FromResult($"the details of span {webhookSpanId} do not show {crmUrl}:\n{details}"));
        pages.Add(("the webhook call's details", await page.ContentAsync(), details));

        Directory.CreateDirectory(ServersFixture.ResultsRoot);
        var screenshot = Path.Combine(ServersFixture.ResultsRoot, "dashboard-trace.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
        output.WriteLine($"{rows.Count} spans on the page; screenshot {screenshot}; the test took {took.Elapsed.TotalSeconds:0.0} s");

        foreach (var (what, html, text) in pages)
        {
            foreach (var variant in IdentifierVariants)
            {
                Assert.False(html.Contains(variant, StringComparison.OrdinalIgnoreCase), $"the dashboard's page of {what} shows the customer's '{variant}'");
            }
            // However the number is grouped or punctuated: every run of digits on screen, separators dropped.
            Assert.DoesNotContain(PhoneLikeRun().Matches(text), m => NonDigits().Replace(m.Value, "").Contains("79460958", StringComparison.Ordinal));
            Assert.DoesNotMatch(EmailShaped(), text);
        }
        Assert.True(File.Exists(screenshot), screenshot);
    }

    /// <summary>The demo's phone and email as they might be written: formatted, digits only, national, URL-encoded.</summary>
    private static readonly string[] IdentifierVariants =
    [
        Phone, "+442079460958", "442079460958", "02079460958", "2079460958", "020 7946 0958", "20 7946 0958", "7946 0958", "79460958",
        "%2B44", Email, "ana.lima", "Ana.Lima%40example.com", "lima@example",
    ];

    /// <summary>The titles of the trace's rows ("gateway: POST /v1/events"); none while the dashboard has not got the trace.</summary>
    private static async Task<IReadOnlyList<string>> SpanRows(IPage page, Uri tracePage)
    {
        await page.GotoAsync(tracePage.ToString());
        var names = page.Locator("tr[role=row] td[col-index='1'][title]");
        try
        {
            await names.First.WaitForAsync(new LocatorWaitForOptions { Timeout = 5000 });
        }
        catch (TimeoutException)
        {
            return [];
        }
        var titles = new List<string>();
        foreach (var cell in await names.AllAsync())
        {
            titles.Add(await cell.GetAttributeAsync("title") ?? "");
        }
        return titles;
    }

    [GeneratedRegex(@"\+?\d(?:[\s().\-/]?\d){7,}")]
    private static partial Regex PhoneLikeRun();

    [GeneratedRegex(@"\D")]
    private static partial Regex NonDigits();

    [GeneratedRegex(@"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")]
    private static partial Regex EmailShaped();

    /// <summary>Debian's Chromium (or CONTACTS_CHROMIUM): Playwright's own browser download cannot be fetched here.</summary>
    private static string ChromiumPath()
    {
        var path = Environment.GetEnvironmentVariable("CONTACTS_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";
        Assert.True(File.Exists(path),
            $"Chromium is not at {path}: this test drives a real browser. Install it with `apt-get install chromium` (.ci/run does), or set CONTACTS_CHROMIUM.");
        return path;
    }
}

/// <summary>Debian's Chromium driven by Playwright, launched as soon as it is created; pages are opened once it has started.</summary>
internal sealed class HeadlessChromium(string executable) : IAsyncDisposable
{
    private readonly Task<(IPlaywright Playwright, IBrowser Browser)> _launched = Launch(executable);

    private static async Task<(IPlaywright, IBrowser)> Launch(string executable)
    {
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = executable,
                Headless = true,
                // As root Chromium refuses to start with its sandbox.
                ChromiumSandbox = false,
                Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"],
            });
            return (playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    public async Task<IPage> NewPage(int width, int height) =>
        await (await _launched).Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });

    public async ValueTask DisposeAsync()
    {
        try
        {
            var (playwright, browser) = await _launched;
            await browser.DisposeAsync();
            playwright.Dispose();
        }
        catch (Exception) when (!_launched.IsCompletedSuccessfully)
        {
            // it never started: NewPage has reported why
        }
    }
}
