using System.Collections.Concurrent;
using Npgsql;

namespace Contacts.Gateway.ApiKeys;

/// <summary>
/// Live keys the gateway has looked up, so a request does not cost a database round trip. Only while the gateway
/// listens for changes to the key table (a trigger notifies on every update or delete, whoever makes it: the admin
/// API, `Contacts.Gateway keys revoke` from another process, an operator's SQL): any change empties the cache, and
/// while the listener is not connected nothing is cached, so a revoked key stops working as soon as the notification
/// arrives (milliseconds), not after a time-to-live. A lookup that began before a change cannot store its answer after
/// it: entries carry the generation they were read in, and only entries of the current one count.
/// </summary>
public sealed class ApiKeyCache(TimeProvider clock)
{
    /// <summary>Belt and braces: an entry is looked up again after this long even if no change was heard.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);
    public const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _generation;
    private volatile bool _listening;

    private sealed record Entry(string Tenant, long Generation, DateTimeOffset ReadAt);

    /// <summary>Read before looking a key up in the database; give it back to <see cref="Put"/>.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public bool Listening => _listening;

    public string? TenantOf(string keyHash) =>
        _listening && _entries.TryGetValue(keyHash, out var entry) && entry.Generation == Generation && clock.GetUtcNow() - entry.ReadAt < MaxAge
            ? entry.Tenant
            : null;

    /// <summary>Remembers a live key read from the database in <paramref name="generation"/>; ignored if anything changed since.</summary>
    public void Put(string keyHash, string tenant, long generation)
    {
        if (!_listening || generation != Generation)
        {
            return;
        }
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }
        _entries[keyHash] = new Entry(tenant, generation, clock.GetUtcNow());
    }

    /// <summary>A key changed (or may have): forget everything.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    /// <summary>The listener connected (after LISTEN) or lost its connection: either way, start from nothing.</summary>
    public void SetListening(bool listening)
    {
        _listening = listening;
        Invalidate();
    }
}

/// <summary>Keeps a connection listening on the key table's channel and tells the cache of every change; reconnects.</summary>
internal sealed partial class ApiKeyChangeListener(
    NpgsqlDataSource dataSource, Contacts.Persistence.MigrationState migrations, ApiKeyCache cache,
    ILogger<ApiKeyChangeListener> logger) : BackgroundService
{
    public const string Channel = "contacts_api_keys";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await migrations.WaitAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => cache.Invalidate();
                await using (var listen = new NpgsqlCommand($"listen {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }
                cache.SetListening(true);
                while (!stoppingToken.IsCancellationRequested)
                {
                    // A quiet connection is checked now and then, so one that died without a word stops the caching.
                    if (!await connection.WaitAsync(TimeSpan.FromSeconds(15), stoppingToken))
                    {
                        await using var ping = new NpgsqlCommand("select 1", connection);
                        await ping.ExecuteScalarAsync(stoppingToken);
                    }
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogListenFailed(logger, ex.Message);
            }
            finally
            {
                cache.SetListening(false);
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not listening for API key changes (keys are looked up on every request meanwhile): {Reason}")]
    private static partial void LogListenFailed(ILogger logger, string reason);
}
