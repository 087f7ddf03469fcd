using System.ComponentModel;
namespace Contacts.Effort.Journeys;

/// <summary>
/// Points per occurrence of each driver. Every driver is capped at three times its weight, so no single driver can fill
/// the 0-100 scale alone. Sources: CEB/Gartner, "The Effortless Experience" (Dixon, Toman, DeLisi, 2013) and the CES 2.0
/// survey; see docs/architecture.md, "Effort: contacts, journeys, drivers".
/// </summary>
public sealed class EffortWeights
{
    // A repeat contact multiplies the chance of disloyalty about 2.5x, the largest effect measured: the heaviest weight.
    public int RepeatContact { get; set; } = 20;
    // Each channel switch costs about 10% of loyalty (57% of customers had to switch from web to phone).
    public int ChannelSwitch { get; set; } = 15;
    // Transfers are named by 59% of customers as effort; no separate effect size is published, so below a switch.
    public int Transfer { get; set; } = 10;
    // Hold time is a named driver of effort; weighted like a transfer in the absence of a published effect size.
    public int LongHold { get; set; } = 10;
    // Waiting to be answered is the same experience as hold before the first agent; weighted like hold.
    public int LongQueueWait { get; set; } = 10;
    // The customer gave up: the issue is unresolved and a repeat contact is on its way, so it weighs close to a repeat.
    public int Abandoned { get; set; } = 15;
    // Voicemail and IVR loops instead of a live answer are named effort drivers.
    public int NoLiveAnswer { get; set; } = 10;
    // CES 2.0: 1-3 is high effort; per point below 4 (1 -> 45, 2 -> 30, 3 -> 15), the observed truth outweighs guesses.
    public int LowCes { get; set; } = 15;
}

public sealed class EffortThresholds
{
    // No published cutoff: two minutes on hold is our starting point, tunable per tenant.
    public int HoldSeconds { get; set; } = 120;
    // No published cutoff: six times the common 80/20 service level's 20-second answer target.
    public int QueueWaitSeconds { get; set; } = 120;
}

/// <summary>A tenant's scoring settings. The window is the repeat-contact window that first-contact resolution uses (7 days, 168 h).</summary>
public sealed class EffortSettings
{
    public int WindowDays { get; set; } = 7;
    [Description("Points per occurrence, 0-100 each; every driver is capped at 3x its weight.")]
    public EffortWeights Weights { get; set; } = new();
    public EffortThresholds Thresholds { get; set; } = new();

    [System.Text.Json.Serialization.JsonIgnore]
    public TimeSpan Window => TimeSpan.FromDays(WindowDays);

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
        Range("windowDays", WindowDays, 1, 90);
        foreach (var property in typeof(EffortWeights).GetProperties())
        {
            Range($"weights.{System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(property.Name)}", (int)property.GetValue(Weights)!, 0, 100);
        }
        Range("thresholds.holdSeconds", Thresholds.HoldSeconds, 0, 86_400);
        Range("thresholds.queueWaitSeconds", Thresholds.QueueWaitSeconds, 0, 86_400);
        return errors;
    }
}
