using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Contacts.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Contacts.Messaging;

/// <summary>"RabbitMq:Watchdog": how the service checks that its receive endpoints still take their queues' messages.</summary>
public sealed class ReceiveWatchdogOptions
{
    /// <summary>How often the broker is asked what waits in each of the service's queues; 0 turns the watchdog off.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages waiting, none in hand, nothing received or finished for this long: the endpoint is restarted.</summary>
    public TimeSpan StallAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>As StallAfter while messages are in hand: longer than the consumers' retries of a transient fault (about 5 minutes).</summary>
    public TimeSpan StallInHandAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long stopping and starting an endpoint may take before the service gives up and exits (exit code 70).</summary>
    public TimeSpan RestartTimeout { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>What one check saw of a queue: messages the broker holds ready for it, and what this service has done with it.</summary>
/// <param name="Waiting">Ready messages on the broker (not those delivered and unacknowledged).</param>
/// <param name="InHand">Messages this service has received from the queue and not finished.</param>
/// <param name="Progress">Messages received plus messages finished, ever: it moves whenever the endpoint does anything.</param>
/// <param name="ActiveElsewhere">A queue with a single active consumer (a partition) that has consumers: the active one may be
/// another instance's, so messages waiting while this endpoint does nothing prove nothing about it.</param>
public readonly record struct QueueObservation(uint Waiting, long InHand, long Progress, bool ActiveElsewhere = false);

/// <summary>What the watchdog remembers of a queue between checks.</summary>
/// <param name="Progress">The endpoint's progress at the last check.</param>
/// <param name="StuckSince">The first check at which messages waited and the endpoint had not moved since the check before.</param>
public readonly record struct QueueWatch(long Progress, DateTimeOffset? StuckSince);

/// <summary>
/// When a receive endpoint has stalled. A consumer that is connected and has room takes a ready message within
/// milliseconds (the broker pushes it), so messages that keep waiting while the endpoint neither receives nor finishes
/// anything mean it has lost its consumer, as MassTransit's endpoints sometimes do after a broker restart. With messages in
/// hand, a stall is only called once no retry of a transient fault could still be running.
/// </summary>
public static class StallPolicy
{
    public static (QueueWatch Next, bool Stalled) Observe(QueueWatch previous, QueueObservation now, DateTimeOffset at,
        TimeSpan stallAfter, TimeSpan stallInHandAfter)
    {
        if (now.Waiting == 0 || now.Progress != previous.Progress || now.ActiveElsewhere)
        {
            return (new QueueWatch(now.Progress, null), false);
        }
        var since = previous.StuckSince ?? at;
        var limit = now.InHand > 0 ? stallInHandAfter : stallAfter;
        return (new QueueWatch(now.Progress, since), at - since >= limit);
    }
}

/// <summary>
/// Counts, per receive endpoint, the messages received and finished, and keeps each pipeline endpoint MassTransit started,
/// so the watchdog can restart it.
/// </summary>
public sealed class ReceiveActivity : IReceiveObserver, IReceiveEndpointObserver
{
    private sealed class Counters
    {
        public long Received;
        public long Finished;
    }

    private readonly ConcurrentDictionary<Uri, Counters> _counters = new();
    private readonly ConcurrentDictionary<string, IReceiveEndpoint> _endpoints = new();

    /// <summary>The pipeline's queues this service consumes, with their endpoints.</summary>
    public IReadOnlyDictionary<string, IReceiveEndpoint> Endpoints => _endpoints;

    public (long InHand, long Progress) Of(IReceiveEndpoint endpoint) =>
        _counters.TryGetValue(endpoint.InputAddress, out var c)
            ? (Interlocked.Read(ref c.Received) - Interlocked.Read(ref c.Finished), Interlocked.Read(ref c.Received) + Interlocked.Read(ref c.Finished))
            : (0, 0);

    public static string QueueOf(Uri inputAddress) => inputAddress.AbsolutePath.Split('/')[^1];

    public Task PreReceive(ReceiveContext context)
    {
        Interlocked.Increment(ref _counters.GetOrAdd(context.InputAddress, _ => new Counters()).Received);
        return Task.CompletedTask;
    }

    public Task PostReceive(ReceiveContext context) => Finished(context);

    public Task ReceiveFault(ReceiveContext context, Exception exception) => Finished(context);

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class =>
        Task.CompletedTask;

    private Task Finished(ReceiveContext context)
    {
        Interlocked.Increment(ref _counters.GetOrAdd(context.InputAddress, _ => new Counters()).Finished);
        return Task.CompletedTask;
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        var queue = QueueOf(ready.InputAddress);
        if (PipelineTopology.Endpoints.Any(e => e.Queue == queue) || PipelineTopology.IsPartitionQueue(queue))
        {
            _endpoints[queue] = ready.ReceiveEndpoint;
        }
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}

/// <summary>
/// Restarts a receive endpoint that has stalled (see <see cref="StallPolicy"/>): every interval it asks the broker, on a
/// connection of its own, how many messages wait in each pipeline queue this service consumes, and compares that with
/// what the endpoint has done since. A stalled endpoint is stopped and started again; if that does not finish in time,
/// the service exits (code 70) so that its supervisor starts it afresh. A silent stall is never left standing: the
/// messages would wait in the queue, unseen, while the service looked healthy.
/// </summary>
internal sealed partial class ReceiveWatchdog(
    ReceiveActivity activity,
    IOptions<RabbitMqOptions> broker,
    IOptions<ReceiveWatchdogOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<ReceiveWatchdog> logger) : BackgroundService
{
    private readonly Dictionary<string, QueueWatch> _watches = [];
    private readonly ConcurrentDictionary<string, long> _deadLetters = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Interval <= TimeSpan.Zero)
        {
            return;
        }
        ContactsTelemetry.Meter.CreateObservableGauge("contacts.dead_letters",
            () => _deadLetters.Select(q => new Measurement<long>(q.Value, new KeyValuePair<string, object?>("queue", q.Key))),
            description: "Messages waiting in each of this service's <queue>_error queues (0 before any has failed)");
        IConnection? connection = null;
        try
        {
            using var timer = new PeriodicTimer(settings.Interval);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (activity.Endpoints.Count == 0)
                {
                    continue;
                }
                try
                {
                    connection ??= await broker.Value.CreateConnectionFactory().CreateConnectionAsync("contacts-watchdog", stoppingToken);
                    await Check(connection, settings, stoppingToken);
                    await CountDeadLetters(connection, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested && ex is not RestartFailedException)
                {
                    // The broker is away or restarting: nothing can be told now, and MassTransit is reconnecting meanwhile.
                    // The next check starts on a new connection.
                    LogCheckFailed(logger, ex.Message);
                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                        connection = null;
                    }
                }
            }
        }
        catch (RestartFailedException failed)
        {
            LogRestartFailed(logger, failed.Queue, failed.InnerException?.Message ?? "");
            Environment.ExitCode = 70;
            lifetime.StopApplication();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private async Task Check(IConnection connection, ReceiveWatchdogOptions settings, CancellationToken ct)
    {
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        foreach (var (queue, endpoint) in activity.Endpoints)
        {
            if (!_watches.ContainsKey(queue))
            {
                // Zero restarts is exported too, so a dashboard or an alert rule finds the series before the first restart.
                ContactsTelemetry.ReceiveEndpointRestarts.Add(0, new KeyValuePair<string, object?>("queue", queue));
            }
            var declared = await channel.QueueDeclarePassiveAsync(queue, ct);
            var (inHand, progress) = activity.Of(endpoint);
            var now = DateTimeOffset.UtcNow;
            // A partition's endpoint that lost its consumer leaves the queue with none (as the only instance) or with the other
            // instances' only; with consumers left, the active one may be theirs, so only a consumerless partition is a stall.
            var observed = new QueueObservation(declared.MessageCount, inHand, progress,
                ActiveElsewhere: PipelineTopology.IsPartitionQueue(queue) && declared.ConsumerCount > 0);
            var (next, stalled) = StallPolicy.Observe(_watches.GetValueOrDefault(queue), observed,
                now, settings.StallAfter, settings.StallInHandAfter);
            _watches[queue] = next;
            if (!stalled)
            {
                continue;
            }
            LogStalled(logger, queue, declared.MessageCount, inHand, (now - next.StuckSince!.Value).TotalSeconds);
            ContactsTelemetry.ReceiveEndpointRestarts.Add(1, new KeyValuePair<string, object?>("queue", queue));
            await Restart(queue, endpoint, settings.RestartTimeout, ct);
            _watches[queue] = new QueueWatch(activity.Of(endpoint).Progress, null);
            LogRestarted(logger, queue);
        }
    }

    /// <summary>
    /// What waits in each "&lt;queue&gt;_error": MassTransit declares an error queue when its first message fails, so one
    /// the broker does not know (404, which closes the channel) holds nothing yet; the next queue gets a new channel then.
    /// </summary>
    private async Task CountDeadLetters(IConnection connection, CancellationToken ct)
    {
        IChannel? channel = null;
        try
        {
            foreach (var queue in activity.Endpoints.Keys)
            {
                var errorQueue = queue + "_error";
                channel ??= await connection.CreateChannelAsync(cancellationToken: ct);
                try
                {
                    _deadLetters[errorQueue] = (await channel.QueueDeclarePassiveAsync(errorQueue, ct)).MessageCount;
                }
                catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
                {
                    _deadLetters[errorQueue] = 0;
                    await channel.DisposeAsync();
                    channel = null;
                }
            }
        }
        finally
        {
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }
        }
    }

    private static async Task Restart(string queue, IReceiveEndpoint endpoint, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(timeout);
            await endpoint.Stop(limit.Token).WaitAsync(limit.Token);
            var handle = endpoint.Start(ct);
            await handle.Ready.WaitAsync(limit.Token);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            throw new RestartFailedException(queue, ex);
        }
    }

    private sealed class RestartFailedException(string queue, Exception inner) : Exception($"restarting {queue} failed", inner)
    {
        public string Queue { get; } = queue;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Receive watchdog could not check the broker: {Reason}")]
    private static partial void LogCheckFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Receive endpoint {Queue} has stalled: {Waiting} messages wait, {InHand} in hand, nothing received or finished for {Seconds:F0} s; restarting it")]
    private static partial void LogStalled(ILogger logger, string queue, uint waiting, long inHand, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Receive endpoint {Queue} restarted by the watchdog")]
    private static partial void LogRestarted(ILogger logger, string queue);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Receive endpoint {Queue} could not be restarted ({Reason}); stopping the service so that it starts afresh")]
    private static partial void LogRestartFailed(ILogger logger, string queue, string reason);
}
