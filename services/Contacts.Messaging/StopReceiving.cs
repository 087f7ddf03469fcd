using MassTransit;
using Microsoft.Extensions.Configuration;

namespace Contacts.Messaging;

/// <summary>
/// Fault injection for the reliability suite: with "Faults:StopReceiving" = "queue:N", that queue's receive endpoint
/// stops after its N-th message, as a lost consumer would, and the receive watchdog has to notice and restart it. For a
/// partitioned stage, N counts the messages of all its queues, and the endpoint that took the N-th stops.
/// Registered only when configured.
/// </summary>
public sealed class StopReceiving(ReceiveActivity activity, IConfiguration configuration) : IReceiveObserver
{
    public const string Setting = "Faults:StopReceiving";

    private readonly (string Queue, int After)? _at = Parse(configuration[Setting]);
    private long _received;

    /// <summary>Whether configuration asks for the stop (the observer is registered only then).</summary>
    public static bool Asked(IConfiguration configuration) => Parse(configuration[Setting]) is not null;

    public Task PreReceive(ReceiveContext context)
    {
        var input = ReceiveActivity.QueueOf(context.InputAddress);
        if (_at is var (queue, after) && (input == queue || PipelineTopology.PartitionedStageOf(input) == queue)
            && Interlocked.Increment(ref _received) == after && activity.Endpoints.TryGetValue(input, out var endpoint))
        {
            Console.Error.WriteLine($"fault injection: stopping the receive endpoint of {input} after message {after} of {queue}");
            // Not awaited: stopping waits for the messages in hand, this one included.
            _ = Task.Run(() => endpoint.Stop());
        }
        return Task.CompletedTask;
    }

    public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class =>
        Task.CompletedTask;

    public Task ReceiveFault(ReceiveContext context, Exception exception) => Task.CompletedTask;

    private static (string, int)? Parse(string? setting) =>
        setting?.Split(':') is [var queue, var n] && int.TryParse(n, out var after) && after > 0 ? (queue, after) : null;
}
