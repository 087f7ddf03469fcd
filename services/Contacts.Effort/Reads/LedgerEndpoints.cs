using System.ComponentModel;
using System.Text;
using System.Text.Json;
using Contacts.Effort.Journeys;
using Contacts.Effort.Scoring;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Http;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace Contacts.Effort.Reads;

/// <summary>A customer's loyalty account: the balance, its entries in time order (paged) and the moments behind them.</summary>
public sealed record LedgerView(
    Guid CustomerId,
    [property: Description("The balance now, within 0-100.")] int Balance,
    [property: Description("Where every account opens.")] int Opening,
    [property: Description("The tenant's low-balance floor.")] int Floor,
    [property: Description("The balance is below the floor.")] bool Low,
    DateTimeOffset AsOf,
    [property: Description("How many of the customer's contacts were each kind of moment.")] MomentCounts Moments,
    [property: Description("The customer's latest moment of truth, of any kind.")] MomentView? LastMoment,
    [property: Description("Deposits (magic) and withdrawals (misery) in the order the moments were lived, each with the balance after it.")]
    IReadOnlyList<LedgerEntryView> Entries,
    [property: Description("The cursor for the next page (after=); null on the last.")] string? Next,
    [property: Description("When the tenant's amounts changed: each applies to moments from then on, never to earlier entries.")]
    IReadOnlyList<AmountChangeView> AmountChanges);

public sealed record LedgerEntryView(
    DateTimeOffset At,
    [property: Description("The contact (source:contactId).")] string ContactId,
    [property: Description("misery (a withdrawal) or magic (a deposit).")] string Kind,
    [property: Description("The reason whose amount applied (the heaviest of the moment's reasons).")] string Reason,
    IReadOnlyList<string> Reasons,
    [property: Description("Points deposited (positive) or withdrawn (negative).")] int Amount,
    [property: Description("The balance after this entry.")] int Balance,
    [property: Description("When the amounts applied took effect; null for the defaults.")] DateTimeOffset? AmountsFrom);

public sealed record MomentView(
    [property: Description("The contact (source:contactId).")] string ContactId,
    [property: Description("misery, mediocre or magic.")] string Kind,
    [property: Description("promise_broken, unresolved_repeat, abandoned_after_long_wait, transferred; first_contact_resolution, easy_ces.")]
    IReadOnlyList<string> Reasons,
    DateTimeOffset At);

public sealed record MomentCounts(int Misery, int Mediocre, int Magic);

public sealed record AmountChangeView(DateTimeOffset EffectiveFrom, LedgerAmounts Amounts);

public sealed record MomentSettingsView(
    MomentSettings Settings,
    [property: Description("When these settings took effect; null while the defaults apply.")] DateTimeOffset? EffectiveFrom,
    [property: Description("Every change, oldest first.")] IReadOnlyList<AmountChangeView> History);

public static class LedgerEndpoints
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapLedger(this IEndpointRouteBuilder app)
    {
        var scoped = app.MapTenantScoped();
        scoped.MapGet("/v1/customers/{id:guid}/ledger", GetLedger).WithName("GetCustomerLedger")
            .Documented("The customer's loyalty account: balance (opens at 50, within 0-100), floor, the latest moment of truth, and the "
                + "entries (each misery withdraws, each magic deposits), oldest first and paged, each with its contact, reason and the balance after it.")
            .Parameter("id", "The customer's id (a merged id answers for the survivor).")
            .Paged("Entries", DefaultLimit, MaxLimit, cursor: "The cursor from the previous page's next.")
            .Answers(StatusCodes.Status200OK, "The account.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        scoped.MapGet("/v1/settings/moments", GetSettings).WithName("GetMomentSettings")
            .Documented("The tenant's moments-of-truth settings (the classifier's thresholds, the ledger's amounts, the low-balance floor), "
                + "when they took effect and every earlier change.")
            .Answers(StatusCodes.Status200OK, "The settings.");
        scoped.MapPut("/v1/settings/moments", PutSettings).WithName("PutMomentSettings")
            .Documented("Replaces the tenant's moments-of-truth settings (fields left out take their defaults) from now on: thresholds and floor "
                + "apply to every read, amounts to moments lived from now (earlier entries keep theirs). The same settings again change nothing.")
            .Accepts<MomentSettings>("application/json")
            .Answers(StatusCodes.Status200OK, "The settings in force.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    internal static async Task<Results<Ok<LedgerView>, ProblemHttpResult, ValidationProblem>> GetLedger(
        Guid id, [AsParameters] PageRequest paging, HttpContext http, Database database, EffortStore store, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var errors = new Dictionary<string, string[]>();
        var size = paging.Size(DefaultLimit, MaxLimit, errors);
        var cursor = paging.Cursor(Cursor, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        if (await EffortEndpoints.Survivor(connection, tenant, id, ct) is not { } customerId)
        {
            return EffortEndpoints.NotFound($"No effort is known for customer {id} in this tenant.");
        }
        var events = (await EffortStore.Histories(connection, null, [(tenant, customerId)], ct))[customerId];
        var history = await EffortStore.MomentSettingsHistory(connection, tenant, ct);
        var story = CustomerStory.Evaluate(events, (await store.Settings(connection, null, tenant, ct)).Window, history, DateTimeOffset.UtcNow);
        var (moments, account, current, asOf) = (story.Moments, story.Account, story.Settings, story.AsOf);

        var page = account.Entries.Where(e => cursor is not { } c || e.At > c.At || e.At == c.At && string.CompareOrdinal(e.ContactKey, c.Contact) > 0)
            .Take(size + 1).ToList();
        var more = page.Count > size;
        page = [.. page.Take(size)];
        var last = moments.LastOrDefault();
        return TypedResults.Ok(new LedgerView(customerId, account.Balance, LedgerAccount.Opening, current.Floor, account.Balance < current.Floor, asOf,
            new MomentCounts(moments.Count(m => m.Kind == MomentKinds.Misery), moments.Count(m => m.Kind == MomentKinds.Mediocre),
                moments.Count(m => m.Kind == MomentKinds.Magic)),
            last is null ? null : new MomentView(last.ContactKey, last.Kind, last.Reasons, last.At),
            [.. page.Select(e => new LedgerEntryView(e.At, e.ContactKey, e.Kind, e.Reason, e.Reasons, e.Amount, e.Balance, e.AmountsFrom))],
            more ? Cursor(page[^1]) : null,
            [.. history.Select(h => new AmountChangeView(h.EffectiveFrom, h.Settings.Amounts))]));
    }

    internal static async Task<Results<Ok<MomentSettingsView>, ProblemHttpResult>> GetSettings(
        HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        return TypedResults.Ok(View(await EffortStore.MomentSettingsHistory(connection, tenant, ct)));
    }

    internal static async Task<Results<Ok<MomentSettingsView>, ProblemHttpResult, ValidationProblem>> PutSettings(
        HttpContext http, Database database, CancellationToken ct)
    {
        var tenant = TenantScope.Of(http);
        var (settings, refusal) = await JsonBody.ReadRequest<MomentSettings>(http.Request, EffortStore.Json, ct);
        if (refusal is not null)
        {
            return refusal;
        }
        if (settings is null || settings.Thresholds is null || settings.Amounts is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["must be an object with thresholds, amounts and floor"] });
        }
        if (settings.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors);
        }
        // One change at a time per tenant; the same settings again (a retried PUT) add no change.
        await database.InTransaction(session => session.Execute("""
            select pg_advisory_xact_lock(hashtextextended('moment_settings:' || @tenant, 0));
            insert into moment_settings (tenant_id, effective_from, settings)
            select @tenant, clock_timestamp(), @settings::jsonb
            where (select settings from moment_settings where tenant_id = @tenant order by effective_from desc limit 1) is distinct from @settings::jsonb
            """, new { tenant, settings = JsonSerializer.Serialize(settings, EffortStore.Json) }, ct), ct);
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        return TypedResults.Ok(View(await EffortStore.MomentSettingsHistory(connection, tenant, ct)));
    }

    private static MomentSettingsView View(IReadOnlyList<MomentSettingsSince> history) =>
        new(history.LastOrDefault()?.Settings ?? new MomentSettings(), history.LastOrDefault()?.EffectiveFrom,
            [.. history.Select(h => new AmountChangeView(h.EffectiveFrom, h.Settings.Amounts))]);

    private static string Cursor(LedgerEntry entry) =>
        WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes($"{entry.At.UtcTicks}|{entry.ContactKey}"));

    private static (DateTimeOffset At, string Contact)? Cursor(string value)
    {
        try
        {
            var text = Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(value));
            var bar = text.IndexOf('|');
            return bar > 0 && long.TryParse(text.AsSpan(0, bar), out var ticks) && ticks >= 0 && ticks <= DateTimeOffset.MaxValue.UtcTicks
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), text[(bar + 1)..])
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
