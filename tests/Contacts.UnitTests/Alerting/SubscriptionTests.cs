using System.Net;
using Contacts.Alerting.Subscriptions;
using Contacts.Alerting.Webhooks;

namespace Contacts.UnitTests;

/// <summary>Webhook subscriptions' pure rules: which addresses and URLs may be called, retries and disabling, event filters, requests.</summary>
public sealed class SubscriptionTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("8.8.8.8", AddressKind.Public)]
    [InlineData("172.32.0.1", AddressKind.Public)]
    [InlineData("2001:4860:4860::8888", AddressKind.Public)]
    [InlineData("127.0.0.1", AddressKind.Private)]
    [InlineData("127.8.9.10", AddressKind.Private)]
    [InlineData("0.0.0.0", AddressKind.Private)]
    [InlineData("10.1.2.3", AddressKind.Private)]
    [InlineData("172.16.0.1", AddressKind.Private)]
    [InlineData("172.31.255.255", AddressKind.Private)]
    [InlineData("192.168.1.1", AddressKind.Private)]
    [InlineData("100.64.0.1", AddressKind.Private)]
    [InlineData("169.254.1.1", AddressKind.Private)]
    [InlineData("224.0.0.1", AddressKind.Private)]
    [InlineData("::1", AddressKind.Private)]
    [InlineData("::", AddressKind.Private)]
    [InlineData("fe80::1", AddressKind.Private)]
    [InlineData("fc00::1", AddressKind.Private)]
    [InlineData("fd12:3456::1", AddressKind.Private)]
    [InlineData("::ffff:127.0.0.1", AddressKind.Private)]
    [InlineData("::ffff:10.0.0.1", AddressKind.Private)]
    [InlineData("64:ff9b::7f00:1", AddressKind.Private)]
    [InlineData("169.254.169.254", AddressKind.Metadata)]
    [InlineData("::ffff:169.254.169.254", AddressKind.Metadata)]
    [InlineData("fd00:ec2::254", AddressKind.Metadata)]
    public void Given_an_address_when_classified_then_it_is_public_private_or_metadata(string address, AddressKind kind) =>
        Assert.Equal(kind, UrlSafety.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("127.0.0.1", true, false)]
    [InlineData("127.0.0.1", false, true)]
    [InlineData("10.0.0.7", true, false)]
    [InlineData("169.254.169.254", true, true)]
    [InlineData("fd00:ec2::254", true, true)]
    [InlineData("8.8.8.8", false, false)]
    public void Given_the_private_setting_when_an_address_is_checked_then_the_metadata_address_is_refused_always(string address, bool allowPrivate,
        bool refused) =>
        Assert.Equal(refused, UrlSafety.Refusal(IPAddress.Parse(address), allowPrivate) is not null);

    [Theory]
    [InlineData("https://crm.example.com/hooks/alerts", false, null)]
    [InlineData("http://crm.example.com:8080/a?b=c", false, null)]
    [InlineData("http://127.0.0.1:9000/crm", true, null)]
    [InlineData("http://localhost:9000/crm", true, null)]
    [InlineData(null, false, "is required")]
    [InlineData("crm.example.com/hooks", false, "must be an absolute URL")]
    [InlineData("ftp://crm.example.com/hooks", false, "must use http or https")]
    [InlineData("file:///etc/passwd", true, "must use http or https")]
    [InlineData("gopher://crm.example.com/", true, "must use http or https")]
    [InlineData("https://user:secret@crm.example.com/", false, "must not carry credentials")]
    [InlineData("http://127.0.0.1:9000/crm", false, "must not point at 127.0.0.1 is a loopback, private or link-local address")]
    [InlineData("http://[::1]/crm", false, "must not point at ::1 is a loopback, private or link-local address")]
    [InlineData("http://10.0.0.5/crm", false, "must not point at 10.0.0.5 is a loopback, private or link-local address")]
    [InlineData("http://169.254.169.254/latest/meta-data/", false, "must not point at 169.254.169.254 is the cloud metadata address")]
    [InlineData("http://169.254.169.254/latest/meta-data/", true, "must not point at 169.254.169.254 is the cloud metadata address")]
    [InlineData("http://[fd00:ec2::254]/", true, "must not point at fd00:ec2::254 is the cloud metadata address")]
    [InlineData("http://localhost:9000/crm", false, "must name a public host (local names are refused)")]
    [InlineData("http://metadata.google.internal/", false, "must name a public host (local names are refused)")]
    [InlineData("http://intranet/", false, "must name a public host (local names are refused)")]
    public void Given_a_url_when_checked_then_only_public_http_endpoints_pass(string? url, bool allowPrivate, string? error) =>
        Assert.Equal(error, UrlSafety.CheckUrl(url, allowPrivate));

    [Fact]
    public async Task Given_private_addresses_refused_when_a_name_resolves_to_loopback_at_send_time_then_no_connection_is_made()
    {
        // "localhost" passes no create-time literal check when private addresses are allowed there; here they are not at send time.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var http = new HttpClient(GuardedConnect.Handler(allowPrivate: false, TimeSpan.FromSeconds(5)));
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => http.PostAsync($"http://localhost:{port}/crm", new StringContent("{}")));
        Assert.Contains(Chain(refused), e => e is ForbiddenAddressException);
        Assert.False(listener.Pending());
    }

    [Fact]
    public async Task Given_the_metadata_address_when_sending_then_it_is_refused_even_with_private_addresses_allowed()
    {
        using var http = new HttpClient(GuardedConnect.Handler(allowPrivate: true, TimeSpan.FromSeconds(5)));
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("http://169.254.169.254/latest/meta-data/"));
        Assert.Contains(Chain(refused), e => e is ForbiddenAddressException f && f.Message.Contains("metadata", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_a_redirect_when_sending_then_it_is_not_followed()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var served = 0;
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            Interlocked.Increment(ref served);
            var stream = client.GetStream();
            var buffer = new byte[4096];
            _ = await stream.ReadAsync(buffer);
            await stream.WriteAsync("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
        });
        using var http = new HttpClient(GuardedConnect.Handler(allowPrivate: true, TimeSpan.FromSeconds(5)));
        using var response = await http.PostAsync($"http://127.0.0.1:{port}/crm", new StringContent("{}"));
        await serve;
        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Equal(1, served);
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
        }
    }

    private static AttemptDecision Decide(int attempts, int? status, DateTimeOffset? failingSince = null, bool subscribed = true) =>
        DeliveryPolicy.Decide(attempts, status, Now, failingSince, DeliveryPolicy.DefaultSchedule, DeliveryPolicy.DefaultDisableAfter, subscribed);

    [Theory]
    [InlineData(200)]
    [InlineData(204)]
    public void Given_a_2xx_when_decided_then_delivered_and_the_subscription_is_healthy(int status) =>
        Assert.Equal(new AttemptDecision(DeliveryStates.Delivered, TimeSpan.Zero, SubscriptionEffect.Healthy), Decide(3, status, Now.AddHours(-3)));

    [Fact]
    public void Given_410_when_decided_then_the_subscription_is_disabled_saying_why()
    {
        var decision = Decide(1, 410);
        Assert.Equal(DeliveryStates.Disabled, decision.State);
        Assert.Equal(SubscriptionEffect.Disable, decision.Effect);
        Assert.Equal("the endpoint answered 410 Gone", decision.DisabledReason);
    }

    [Theory]
    [InlineData(1, 500, 5)]
    [InlineData(1, null, 5)]
    [InlineData(2, 429, 300)]
    [InlineData(3, 302, 1800)]
    [InlineData(4, 503, 7200)]
    public void Given_a_failure_when_decided_then_retried_on_the_schedule_and_the_subscription_is_failing(int attempts, int? status, int delaySeconds)
    {
        var decision = Decide(attempts, status, Now.AddMinutes(-1));
        Assert.Equal(new AttemptDecision(DeliveryStates.Pending, TimeSpan.FromSeconds(delaySeconds), SubscriptionEffect.Failing), decision);
    }

    [Fact]
    public void Given_failures_for_a_day_when_another_fails_then_the_subscription_is_disabled()
    {
        Assert.Equal(SubscriptionEffect.Failing, Decide(7, 500, Now.AddHours(-23.9)).Effect);
        var decision = Decide(8, 500, Now.AddHours(-24));
        Assert.Equal(DeliveryStates.Disabled, decision.State);
        Assert.Equal(SubscriptionEffect.Disable, decision.Effect);
        Assert.StartsWith("every attempt failed since 2026-11-22T12:00:00", decision.DisabledReason);
    }

    [Fact]
    public void Given_the_deployment_url_when_it_fails_for_days_then_only_the_delivery_gives_up()
    {
        Assert.Equal(new AttemptDecision(DeliveryStates.Pending, TimeSpan.FromHours(20), SubscriptionEffect.None), Decide(8, 500, Now.AddDays(-2), subscribed: false));
        Assert.Equal(new AttemptDecision(DeliveryStates.Failed, TimeSpan.Zero, SubscriptionEffect.None), Decide(10, 500, null, subscribed: false));
        Assert.Equal(new AttemptDecision(DeliveryStates.Disabled, TimeSpan.Zero, SubscriptionEffect.None), Decide(1, 410, null, subscribed: false));
    }

    [Fact]
    public void Given_the_default_schedule_then_a_delivery_is_retried_for_about_three_days()
    {
        var span = DeliveryPolicy.Span(DeliveryPolicy.DefaultSchedule);
        Assert.InRange(span, TimeSpan.FromDays(2.75), TimeSpan.FromDays(3.5));
        Assert.Equal(TimeSpan.Zero, DeliveryPolicy.DefaultSchedule[0]);
        Assert.True(DeliveryPolicy.DefaultSchedule.Zip(DeliveryPolicy.DefaultSchedule.Skip(1)).All(p => p.Second >= p.First));
    }

    [Fact]
    public void Given_a_subscriber_that_never_answers_when_retried_on_the_schedule_then_it_is_disabled_after_a_day_not_three()
    {
        var failingSince = Now;
        var at = Now;
        for (var attempts = 1; ; attempts++)
        {
            var decision = DeliveryPolicy.Decide(attempts, 503, at, failingSince, DeliveryPolicy.DefaultSchedule, DeliveryPolicy.DefaultDisableAfter, true);
            if (decision.State != DeliveryStates.Pending)
            {
                Assert.Equal(DeliveryStates.Disabled, decision.State);
                Assert.InRange(at - failingSince, TimeSpan.FromDays(1), TimeSpan.FromDays(1.5));
                return;
            }
            at += decision.NextDelay;
        }
    }

    [Theory]
    [InlineData(new[] { "alert.raised" }, "alert.raised", true)]
    [InlineData(new[] { "alert.raised" }, "alert.resolved", false)]
    [InlineData(new[] { "alert.raised", "alert.resolved" }, "alert.resolved", true)]
    [InlineData(new string[0], "alert.escalated", true)]
    [InlineData(new string[0], "customer.merged", false)]
    [InlineData(new[] { "alert.raised" }, "customer.erased", false)]
    [InlineData(new[] { "customer.merged", "customer.erased" }, "customer.erased", true)]
    public void Given_a_subscriptions_event_types_when_a_webhook_is_queued_then_only_wanted_types_go(string[] events, string type, bool wanted) =>
        Assert.Equal(wanted, DeliveryPolicy.Wants(events, type));

    [Fact]
    public void Given_no_events_when_subscribing_then_every_alert_type_is_wanted_and_no_customer_type()
    {
        var (subscription, errors) = SubscriptionRequest.Parse("""{"url":"https://crm.example.com/a"}""", allowPrivate: false);
        Assert.Empty(errors);
        Assert.Equal(AlertWebhookTypes.All, subscription!.Events);
    }

    [Fact]
    public void Given_customer_types_when_subscribing_then_they_are_kept_in_catalog_order_and_test_is_not_subscribable()
    {
        var (subscription, errors) = SubscriptionRequest.Parse("""{"url":"https://crm.example.com/a","events":["customer.erased","alert.raised","customer.merged"]}""",
            allowPrivate: false);
        Assert.Empty(errors);
        Assert.Equal(["alert.raised", "customer.merged", "customer.erased"], subscription!.Events);
        var (refused, why) = SubscriptionRequest.Parse("""{"url":"https://crm.example.com/a","events":["test"]}""", allowPrivate: false);
        Assert.Null(refused);
        Assert.Contains("'test' is not one of", why["events"][0]);
    }

    [Fact]
    public void Given_an_amqp_subscription_when_parsed_then_it_needs_no_url_and_filters_like_a_webhook()
    {
        var (subscription, errors) = SubscriptionRequest.Parse("""{"type":"amqp","events":["alert.raised"]}""", allowPrivate: false);
        Assert.Empty(errors);
        Assert.Equal(new NewSubscription("amqp", null, ["alert.raised"]).Fingerprint, subscription!.Fingerprint);
        Assert.NotEqual(SubscriptionRequest.Parse("""{"url":"https://crm.example.com/a","events":["alert.raised"]}""", false).Subscription!.Fingerprint,
            subscription.Fingerprint);
    }

    [Fact]
    public void Given_events_in_any_order_when_subscribing_then_they_are_kept_once_in_a_stable_order()
    {
        var (subscription, _) = SubscriptionRequest.Parse("""{"url":"https://crm.example.com/a","events":["alert.resolved","alert.raised","alert.raised"]}""", false);
        Assert.Equal(["alert.raised", "alert.resolved"], subscription!.Events);
        Assert.Equal(SubscriptionRequest.Parse("""{"url":"https://crm.example.com/a","events":["alert.raised","alert.resolved"]}""", false).Subscription!.Fingerprint,
            subscription.Fingerprint);
    }

    [Theory]
    [InlineData("""{"url":"https://crm.example.com/a","events":[]}""", "events", "must name at least one of")]
    [InlineData("""{"url":"https://crm.example.com/a","events":["alert.opened"]}""", "events", "'alert.opened' is not one of")]
    [InlineData("""{"url":"https://crm.example.com/a","events":[null]}""", "events", "'null' is not one of")]
    [InlineData("""{"url":"ftp://crm.example.com/a"}""", "url", "must use http or https")]
    [InlineData("""{"events":["alert.raised"]}""", "url", "is required")]
    [InlineData("""{"url":"https://crm.example.com/a","type":"sqs"}""", "type", "must be 'webhook'")]
    [InlineData("""{"url":"https://crm.example.com/a","secret":"mine"}""", "secret", "is not valid here")]
    [InlineData("""{"url":42}""", "url", "is not valid here")]
    [InlineData("""{"type":"amqp","url":"https://crm.example.com/a"}""", "url", "must be left out for an amqp subscription")]
    [InlineData("""[1]""", "body", "is not valid here")]
    [InlineData("""null""", "body", "must be a JSON object")]
    public void Given_a_bad_request_when_subscribing_then_the_error_names_the_field_and_rule(string body, string field, string rule)
    {
        var (subscription, errors) = SubscriptionRequest.Parse(body, allowPrivate: false);
        Assert.Null(subscription);
        Assert.StartsWith(rule, Assert.Single(errors[field]));
    }
}
