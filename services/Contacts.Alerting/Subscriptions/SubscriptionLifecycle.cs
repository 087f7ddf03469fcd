using Contacts.Alerting.Webhooks;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Contacts.Alerting.Subscriptions;

/// <summary>
/// A subscription's switches as pure rules: pause keeps its events queued (sent in order on resume); enable switches a
/// disabled one back on (what happened while it was off is not queued). Asking for the state it is already in is a no-op,
/// so a retried request answers the same; the other moves are refused with what to do instead.
/// </summary>
public static class SubscriptionLifecycle
{
    public const string Enabled = "enabled";
    public const string Paused = "paused";
    public const string Disabled = "disabled";

    public const string Pause = "pause";
    public const string Resume = "resume";
    public const string Enable = "enable";

    /// <summary>The status after the action, or why it cannot be taken from the current one.</summary>
    public static (string? Status, string? Refusal) Transition(string current, string action) => (action, current) switch
    {
        (Pause, Enabled or Paused) => (Paused, null),
        (Pause, _) => (null, "the subscription is disabled: nothing is queued for it to hold back; POST .../enable switches it on again"),
        (Resume, Paused or Enabled) => (Enabled, null),
        (Resume, _) => (null, "the subscription is disabled, not paused: POST .../enable switches it on again"),
        (Enable, Disabled or Enabled) => (Enabled, null),
        (Enable, _) => (null, "the subscription is paused, not disabled: POST .../resume sends what waited"),
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a subscription action"),
    };

    public static IEndpointRouteBuilder MapSubscriptionLifecycle(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        var group = scoped.MapGroup("/v1/subscriptions/{id:guid}");
        Map(group, Pause, "PauseSubscription",
            "Hold the subscription's events: they stay queued (and new ones queue behind them) until resume, then go in order.");
        Map(group, Resume, "ResumeSubscription", "Send what a paused subscription holds, in the order it was queued, and new events as they come.");
        Map(group, Enable, "EnableSubscription",
            "Switch a disabled subscription back on: new events are delivered again, with a fresh run of failures. What happened while it was "
            + "disabled was not queued.");
        return app;
    }

    private static void Map(RouteGroupBuilder group, string action, string name, string summary) =>
        group.MapPost("/" + action, (Guid id, HttpContext http, Database database, WebhookSignal signal, CancellationToken ct) =>
                Apply(id, action, http, database, signal, ct))
            .WithName(name)
            .Documented(summary, "Asking for the state it is already in answers 200 with it unchanged, so a retry is safe.")
            .Answers(StatusCodes.Status200OK, "The subscription after the change.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .Answers(StatusCodes.Status409Conflict, "ProblemDetails: the action does not apply to its state (pause or resume a disabled one, enable a paused one).");

    internal static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> Apply(Guid id, string action, HttpContext http, Database database,
        WebhookSignal signal, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var refusal = await database.InTransaction<(bool Found, string? Refusal)>(async session =>
        {
            if (await session.Scalar<string>("select status from webhook_subscriptions where tenant_id = @tenant and id = @id for update",
                    new { tenant, id }, ct) is not { } current)
            {
                return (false, null);
            }
            var (status, why) = Transition(current, action);
            if (status is null || status == current)
            {
                return (true, why);
            }
            await session.Execute(action switch
            {
                Pause => "update webhook_subscriptions set status = 'paused', paused_at = now() where id = @id",
                Resume => "update webhook_subscriptions set status = 'enabled', paused_at = null where id = @id",
                // A fresh run of failures; failing_announced stays, so the first success after tells the tenant it recovered.
                _ => """
                     update webhook_subscriptions set status = 'enabled', disabled_reason = null, disabled_at = null, failing_since = null,
                         failed_in_row = 0
                     where id = @id
                     """,
            }, new { id }, ct);
            return (true, null);
        }, ct);
        if (!refusal.Found)
        {
            return SubscriptionEndpoints.NotFound(id);
        }
        if (refusal.Refusal is { } why)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Not possible in this state", detail: why);
        }
        if (action != Pause)
        {
            signal.Notify();
        }
        return await SubscriptionStore.Find(database.DataSource, tenant, id, ct) is { } view
            ? TypedResults.Ok(view)
            : SubscriptionEndpoints.NotFound(id);
    }
}
