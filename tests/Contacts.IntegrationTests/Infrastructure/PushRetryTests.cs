using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>
/// What TestPipeline.Push repeats and what it fails on, against canned answers (no servers): the end-to-end and reliability
/// tests lean on it, and a push that retried a 500 would turn an intermittent failure into a slow pass.
/// </summary>
public sealed class PushRetryTests
{
    private const string Accepted = """{"id":"0b0e8a4c-6f43-4d7e-9d55-4f3d2c1b0a99","duplicate":false}""";

    private static HttpResponseMessage Answer(HttpStatusCode status, string body = "{}", string mediaType = "application/json", int? retryAfter = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
        if (retryAfter is { } seconds)
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        }
        return response;
    }

    private static HttpResponseMessage Gateway(HttpStatusCode status, string title) =>
        Answer(status, $$"""{"status":{{(int)status}},"title":"{{title}}","detail":"The ingestion service could not be reached."}""", "application/problem+json");

    /// <summary>Answers each POST with the next of the given answers (an exception is thrown instead), counting them.</summary>
    private sealed class Scripted(params Func<HttpResponseMessage>[] answers) : HttpMessageHandler
    {
        public int Calls { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(answers[Math.Min(Calls++, answers.Length - 1)]());
    }

    private static HttpClient Client(Scripted handler) => new(handler) { BaseAddress = new Uri("http://gateway.test/") };

    [Fact]
    public async Task Given_a_500_when_pushing_then_it_fails_at_once_with_the_body()
    {
        var handler = new Scripted(() => Answer(HttpStatusCode.InternalServerError, """{"title":"boom"}"""), () => Answer(HttpStatusCode.Accepted, Accepted));
        using var http = Client(handler);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => TestPipeline.Push(http, new { }));
        Assert.Equal(1, handler.Calls);
        Assert.Contains("500", failure.Message);
        Assert.Contains("""{"title":"boom"}""", failure.Message);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.NotImplemented)]
    [InlineData(HttpStatusCode.BadGateway)] // a 502 that is not the gateway's ProblemDetails for an unreachable upstream
    public async Task Given_any_other_status_when_pushing_then_it_fails_at_once(HttpStatusCode status)
    {
        var handler = new Scripted(() => Answer(status), () => Answer(HttpStatusCode.Accepted, Accepted));
        using var http = Client(handler);

        await Assert.ThrowsAsync<InvalidOperationException>(() => TestPipeline.Push(http, new { }));
        Assert.Equal(1, handler.Calls);
    }

    [Fact]
    public async Task Given_a_503_with_Retry_After_when_pushing_then_it_waits_that_long_and_repeats()
    {
        var handler = new Scripted(() => Answer(HttpStatusCode.ServiceUnavailable, retryAfter: 1), () => Answer(HttpStatusCode.Accepted, Accepted));
        using var http = Client(handler);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var (id, duplicate) = await TestPipeline.Push(http, new { });
        Assert.Equal((Guid.Parse("0b0e8a4c-6f43-4d7e-9d55-4f3d2c1b0a99"), false), (id, duplicate));
        Assert.Equal(2, handler.Calls);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.95), $"repeated after {watch.Elapsed.TotalMilliseconds:0} ms, before Retry-After's 1 s");
    }

    [Fact]
    public async Task Given_a_503_asking_for_an_hour_when_pushing_then_it_waits_no_longer_than_the_cap()
    {
        var handler = new Scripted(() => Answer(HttpStatusCode.ServiceUnavailable, retryAfter: 3600), () => Answer(HttpStatusCode.Accepted, Accepted));
        using var http = Client(handler);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        await TestPipeline.Push(http, new { });
        Assert.Equal(2, handler.Calls);
        Assert.InRange(watch.Elapsed, TestPipeline.MaxRetryAfter - TimeSpan.FromMilliseconds(50), TestPipeline.MaxRetryAfter + TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Given_a_restart_in_progress_when_pushing_then_refused_connections_timeouts_and_the_gateways_unreachable_answers_are_repeated()
    {
        var handler = new Scripted(
            () => throw new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)),
            () => throw new TaskCanceledException("the client's timeout"),
            () => Gateway(HttpStatusCode.BadGateway, "Upstream unavailable"),
            () => Gateway(HttpStatusCode.GatewayTimeout, "Upstream timeout"),
            () => Answer(HttpStatusCode.Accepted, Accepted));
        using var http = Client(handler);

        await TestPipeline.Push(http, new { });
        Assert.Equal(5, handler.Calls);
    }

    [Fact]
    public async Task Given_503s_past_its_patience_when_pushing_then_it_fails_saying_how_long_it_tried()
    {
        var handler = new Scripted(() => Answer(HttpStatusCode.ServiceUnavailable, """{"title":"Database unavailable"}"""));
        using var http = Client(handler);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => TestPipeline.Push(http, new { }, TimeSpan.FromSeconds(1)));
        Assert.True(handler.Calls > 1);
        Assert.Contains("503 for 1 s", failure.Message);
        Assert.Contains("Database unavailable", failure.Message);
    }
}
