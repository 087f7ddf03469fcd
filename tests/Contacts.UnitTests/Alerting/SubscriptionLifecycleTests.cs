using Contacts.Alerting.Subscriptions;
using Contacts.Alerting.Webhooks;

namespace Contacts.UnitTests.Alerting;

/// <summary>Pause, resume and enable, and the operational events a run of failures announces, as pure rules (given/when/then).</summary>
public sealed class SubscriptionLifecycleTests
{
    [Theory]
    [InlineData("enabled", "pause", "paused")]
    [InlineData("paused", "pause", "paused")]
    [InlineData("paused", "resume", "enabled")]
    [InlineData("enabled", "resume", "enabled")]
    [InlineData("disabled", "enable", "enabled")]
    [InlineData("enabled", "enable", "enabled")]
    public void Given_a_status_when_an_action_applies_then_the_subscription_moves_or_stays(string current, string action, string expected)
    {
        var (status, refusal) = SubscriptionLifecycle.Transition(current, action);
        Assert.Equal((expected, null), (status, refusal));
    }

    [Theory]
    [InlineData("disabled", "pause", "enable")]
    [InlineData("disabled", "resume", "enable")]
    [InlineData("paused", "enable", "resume")]
    public void Given_a_status_when_an_action_does_not_apply_then_it_is_refused_naming_the_one_that_does(string current, string action, string instead)
    {
        var (status, refusal) = SubscriptionLifecycle.Transition(current, action);
        Assert.Null(status);
        Assert.Contains($"POST .../{instead}", refusal);
    }

    [Theory]
    [InlineData(1, null)]
    [InlineData(3, null)]
    [InlineData(4, SubscriptionWebhookTypes.Failing)]
    [InlineData(9, SubscriptionWebhookTypes.Failing)]
    public void Given_failed_attempts_in_a_row_when_not_yet_announced_then_the_fourth_announces_failing(int failedInRow, string? expected) =>
        Assert.Equal(expected, SubscriptionHealth.Announce(SubscriptionEffect.Failing, failedInRow, announced: false, wasEnabled: true));

    [Fact]
    public void Given_an_episode_already_announced_when_more_attempts_fail_then_nothing_more_is_announced() =>
        Assert.Null(SubscriptionHealth.Announce(SubscriptionEffect.Failing, 5, announced: true, wasEnabled: true));

    [Fact]
    public void Given_an_enabled_subscription_when_it_is_disabled_then_disabled_is_announced_once()
    {
        Assert.Equal(SubscriptionWebhookTypes.Disabled, SubscriptionHealth.Announce(SubscriptionEffect.Disable, 1, announced: false, wasEnabled: true));
        Assert.Equal(SubscriptionWebhookTypes.Disabled, SubscriptionHealth.Announce(SubscriptionEffect.Disable, 6, announced: true, wasEnabled: true));
        Assert.Null(SubscriptionHealth.Announce(SubscriptionEffect.Disable, 7, announced: true, wasEnabled: false));
    }

    [Fact]
    public void Given_an_announced_episode_when_an_attempt_succeeds_then_recovered_is_announced_and_otherwise_nothing()
    {
        Assert.Equal(SubscriptionWebhookTypes.Recovered, SubscriptionHealth.Announce(SubscriptionEffect.Healthy, 0, announced: true, wasEnabled: true));
        Assert.Null(SubscriptionHealth.Announce(SubscriptionEffect.Healthy, 0, announced: false, wasEnabled: true));
    }

    [Fact]
    public void Every_operational_type_is_subscribable_and_opt_in()
    {
        Assert.All(SubscriptionWebhookTypes.All, t => Assert.Contains(t, WebhookTypes.Subscribable));
        Assert.All(SubscriptionWebhookTypes.All, t => Assert.DoesNotContain(t, WebhookTypes.Default));
    }
}
