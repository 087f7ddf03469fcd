using Microsoft.Extensions.Options;

namespace Contacts.ServiceDefaults.Tenancy;

/// <summary>"Internal": the key the gateway and the services share, so that only the gateway can name a tenant.</summary>
public sealed class InternalKeyOptions
{
    /// <summary>Internal:Key, the same in the gateway and every service.</summary>
    public string? Key { get; set; }

    /// <summary>Internal:AllowMissingKey: start without a key, trusting any caller's tenant header. Local development only.</summary>
    public bool AllowMissingKey { get; set; }
}

/// <summary>Whether a process may start with the internal key it was given: a pure rule, checked when the host starts.</summary>
public static class InternalKeyPolicy
{
    public const int MinimumLength = 16;

    /// <summary>Placeholders that were published in this repository's files, so anyone could send them.</summary>
    private static readonly string[] Published = ["change-me-internal-key"];

    /// <summary>Null when the process may start; otherwise why not, and what to set.</summary>
    public static string? Refusal(string? key, bool allowMissingKey)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            return allowMissingKey
                ? null
                : "Internal:Key is not set, so any caller could name a tenant: set it (environment Internal__Key) to the same random value of at least "
                    + $"{MinimumLength} characters in the gateway and every service, or set Internal:AllowMissingKey=true for local development only.";
        }
        if (key.Trim().Length < MinimumLength)
        {
            return $"Internal:Key must be at least {MinimumLength} characters (it has {key.Trim().Length}): a short key can be guessed.";
        }
        if (Published.Contains(key.Trim(), StringComparer.OrdinalIgnoreCase))
        {
            return "Internal:Key is a placeholder published with this project; set a random value of your own.";
        }
        return null;
    }
}

/// <summary>Refuses to start a host whose internal key <see cref="InternalKeyPolicy"/> refuses.</summary>
internal sealed class InternalKeyValidation : IValidateOptions<InternalKeyOptions>
{
    public ValidateOptionsResult Validate(string? name, InternalKeyOptions options) =>
        InternalKeyPolicy.Refusal(options.Key, options.AllowMissingKey) is { } why ? ValidateOptionsResult.Fail(why) : ValidateOptionsResult.Success;
}

/// <summary>Says at start, every time, that a process runs without its internal key (Internal:AllowMissingKey), trusting any caller's tenant.</summary>
internal sealed partial class InternalKeyWarning(IOptions<InternalKeyOptions> options, Microsoft.Extensions.Logging.ILogger<InternalKeyWarning> logger)
    : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.Value.Key))
        {
            LogNoKey(logger);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Running without Internal:Key (Internal:AllowMissingKey=true): any caller can name a tenant. Local development only.")]
    private static partial void LogNoKey(Microsoft.Extensions.Logging.ILogger logger);
}
