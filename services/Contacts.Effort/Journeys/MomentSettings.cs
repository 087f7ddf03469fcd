using System.ComponentModel;
using System.Text.Json;

namespace Contacts.Effort.Journeys;

/// <summary>
/// When a contact is a moment of misery or of magic. Sources (docs/architecture.md, "Moments of truth and the loyalty
/// account"): Shep Hyken's moments of misery, mediocrity and magic; first-contact resolution and the repeat window from
/// SQM Group's FCR studies; the 7-point CES scale of CES 2.0 (6-7: "easy"); the 80/20 service level for waits.
/// </summary>
public sealed class MomentThresholds
{
    [Description("A contact abandoned after waiting at least this long (seconds) is misery: six times the 80/20 service level's 20 s.")]
    public int LongWaitSeconds { get; set; } = 120;

    [Description("Transfers on one contact that make it misery: the second hand-off, not the first.")]
    public int Transfers { get; set; } = 2;

    [Description("An inbound contact within this many hours of the customer's previous inbound contact, itself unresolved, is a repeat: misery.")]
    public int RepeatWithinHours { get; set; } = 24;

    [Description("A contact resolved as the first of its journey, with no transfer and a wait at most this long (seconds), is magic.")]
    public int MagicMaxWaitSeconds { get; set; } = 60;

    [Description("A CES answer at or above this (of 7) makes its contact magic.")]
    public int MagicCes { get; set; } = 6;
}

/// <summary>What each moment deposits into or withdraws from the customer's loyalty account (points of 0-100).</summary>
public sealed class LedgerAmounts
{
    [Description("Withdrawn for a promise (callback or follow-up) that fell due with no outbound contact: the classic withdrawal.")]
    public int PromiseBroken { get; set; } = 20;
    [Description("Withdrawn for an unresolved repeat contact within the repeat window.")]
    public int UnresolvedRepeat { get; set; } = 15;
    [Description("Withdrawn for a contact abandoned after a long wait.")]
    public int AbandonedAfterLongWait { get; set; } = 10;
    [Description("Withdrawn for a contact transferred at least the thresholds' number of times.")]
    public int Transferred { get; set; } = 10;
    [Description("Deposited for a resolution at first contact with a short wait.")]
    public int FirstContactResolution { get; set; } = 5;
    [Description("Deposited for a CES answer of 6-7.")]
    public int EasyCes { get; set; } = 5;

    public int For(string reason) => reason switch
    {
        MomentReasons.PromiseBroken => PromiseBroken,
        MomentReasons.UnresolvedRepeat => UnresolvedRepeat,
        MomentReasons.AbandonedAfterLongWait => AbandonedAfterLongWait,
        MomentReasons.Transferred => Transferred,
        MomentReasons.FirstContactResolution => FirstContactResolution,
        MomentReasons.EasyCes => EasyCes,
        _ => 0,
    };
}

/// <summary>A tenant's moments-of-truth settings: the classifier's thresholds, the ledger's amounts and the low-balance floor.</summary>
public sealed class MomentSettings
{
    public MomentThresholds Thresholds { get; set; } = new();
    public LedgerAmounts Amounts { get; set; } = new();

    [Description("A balance below this is low (the account starts at 50 within 0-100).")]
    public int Floor { get; set; } = 30;

    /// <summary>Field name -> rule broken; empty when the settings are usable.</summary>
    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        void Range(string field, int value, int min, int max)
        {
            if (value < min || value > max)
            {
                errors[field] = [$"must be between {min} and {max}"];
            }
        }
        Range("thresholds.longWaitSeconds", Thresholds.LongWaitSeconds, 0, 86_400);
        Range("thresholds.transfers", Thresholds.Transfers, 1, 20);
        Range("thresholds.repeatWithinHours", Thresholds.RepeatWithinHours, 1, 720);
        Range("thresholds.magicMaxWaitSeconds", Thresholds.MagicMaxWaitSeconds, 0, 86_400);
        Range("thresholds.magicCes", Thresholds.MagicCes, 1, 7);
        foreach (var property in typeof(LedgerAmounts).GetProperties())
        {
            Range($"amounts.{JsonNamingPolicy.CamelCase.ConvertName(property.Name)}", (int)property.GetValue(Amounts)!, 0, 100);
        }
        Range("floor", Floor, 0, 100);
        return errors;
    }
}

/// <summary>The settings a tenant had from a moment on: changes apply from then, entries before keep the amounts they had.</summary>
public sealed record MomentSettingsSince(DateTimeOffset EffectiveFrom, MomentSettings Settings);
