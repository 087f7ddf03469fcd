using System.Text.Json;
using Contacts.Messaging;
using Contacts.ServiceDefaults.OpenApi;
using Contacts.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Contacts.Alerting.DeadLetters;

/// <summary>
/// The broker side of dead letters: browsing a pipeline queue's "&lt;queue&gt;_error" without taking anything out (each
/// message is got unacknowledged and given back, in place, when the channel closes), and moving them back to the queue,
/// each published with confirmation before it is acknowledged, so a failure in between leaves a copy in both places
/// (the consumer's inbox absorbs the second) and never none.
/// </summary>
public sealed class DeadLetterBroker(IOptions<RabbitMqOptions> rabbit)
{
    /// <summary>Every queue of the pipeline, whichever service consumes it: the error queues an operator may list and retry.</summary>
    public static IReadOnlyList<string> Queues { get; } = PipelineTopology.Endpoints.Select(e => e.Queue).ToList();

    /// <summary>Messages read per error queue when listing, at most: a tenant filter looks no further.</summary>
    public const int ScanLimit = 1000;

    public async Task<DeadLetterList> List(string? tenant, int limit, CancellationToken ct)
    {
        await using var connection = await rabbit.Value.CreateConnectionFactory().CreateConnectionAsync("alerting-dead-letters", ct);
        var queues = new List<DeadLetterQueue>();
        foreach (var queue in Queues)
        {
            var errorQueue = queue + "_error";
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            var count = await Waiting(channel, errorQueue, ct);
            var messages = new List<DeadLetter>();
            var matched = 0;
            for (var read = 0; read < Math.Min(count, ScanLimit); read++)
            {
                if (await channel.BasicGetAsync(errorQueue, autoAck: false, ct) is not { } got)
                {
                    break;
                }
                var letter = DeadLetters.Describe(got.BasicProperties.MessageId, got.BasicProperties.Headers, got.Body.Span, Published(got.BasicProperties));
                if (tenant is null || letter.Tenant == tenant)
                {
                    matched++;
                    if (messages.Count < limit)
                    {
                        messages.Add(letter);
                    }
                }
            }
            // Closing the channel gives every message got on it back to the error queue, where it was.
            queues.Add(new DeadLetterQueue(queue, errorQueue, count, messages, matched > messages.Count || count > ScanLimit));
        }
        return new DeadLetterList(queues);
    }

    /// <summary>
    /// Moves the error queue's messages (those waiting when it starts; only the named ones when given) back to the queue,
    /// each under its own message id and headers, without the fault headers of its failure.
    /// </summary>
    public async Task<DeadLetterRetry> Retry(string queue, IReadOnlySet<string>? only, CancellationToken ct)
    {
        var errorQueue = queue + "_error";
        await using var connection = await rabbit.Value.CreateConnectionFactory().CreateConnectionAsync("alerting-dead-letters", ct);
        await using var source = await connection.CreateChannelAsync(cancellationToken: ct);
        await using var target = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true,
            publisherConfirmationTrackingEnabled: true), ct);
        var count = await Waiting(source, errorQueue, ct);
        var retried = 0;
        for (var read = 0; read < count; read++)
        {
            if (await source.BasicGetAsync(errorQueue, autoAck: false, ct) is not { } got)
            {
                break;
            }
            if (only is not null && !only.Contains(DeadLetters.Describe(got.BasicProperties.MessageId, null, got.Body.Span, null).MessageId ?? ""))
            {
                continue; // given back when the channel closes
            }
            var properties = new BasicProperties(got.BasicProperties)
            {
                Headers = got.BasicProperties.Headers?.Where(h => !DeadLetters.IsFaultHeader(h.Key)).ToDictionary(h => h.Key, h => h.Value),
            };
            await target.BasicPublishAsync("", queue, mandatory: true, properties, got.Body, ct);
            await source.BasicAckAsync(got.DeliveryTag, multiple: false, ct);
            retried++;
        }
        await source.CloseAsync(ct);
        await using var probe = await connection.CreateChannelAsync(cancellationToken: ct);
        return new DeadLetterRetry(queue, errorQueue, retried, await Waiting(probe, errorQueue, ct));
    }

    /// <summary>How many wait; 0 for an error queue MassTransit has not declared yet (nothing has failed there). A 404 closes the channel.</summary>
    private static async Task<long> Waiting(IChannel channel, string errorQueue, CancellationToken ct)
    {
        try
        {
            return (await channel.QueueDeclarePassiveAsync(errorQueue, ct)).MessageCount;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
        }
    }

    private static DateTimeOffset? Published(IReadOnlyBasicProperties properties) =>
        properties.IsTimestampPresent() ? DateTimeOffset.FromUnixTimeSeconds(properties.Timestamp.UnixTime) : null;
}

public static class DeadLetterEndpoints
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapDeadLetters(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/dead-letters", List).WithName("ListDeadLetters")
            .Documented("What waits in each pipeline queue's error queue (operator key): per queue its count and the first messages, each with its "
                + "message id, type, tenant, reason and when it failed; never an identifier's value.")
            .Query("tenant", JsonSchemaType.String, "Only this tenant's messages (the counts stay every tenant's).")
            .Query("limit", JsonSchemaType.Integer, "Messages shown per queue.", minimum: 1, maximum: MaxLimit, @default: DefaultLimit)
            .Answers(StatusCodes.Status200OK, "The error queues.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .Answers(StatusCodes.Status503ServiceUnavailable, "ProblemDetails: the broker could not be reached; retry.");
        app.MapPost("/admin/dead-letters/{queue}/retry", Retry).WithName("RetryDeadLetters")
            .Documented("Send a queue's dead letters back to it once their cause is fixed (operator key): all of them, or those whose messageId is "
                + "named. Each keeps its message id, so one that had been handled after all is absorbed by the consumer's inbox; one that fails again "
                + "returns to the error queue.")
            .Parameter("queue", "The pipeline queue, e.g. identity-contact-events (its _error name is accepted too).", allowed: DeadLetterBroker.Queues)
            .Accepts(typeof(DeadLetterRetryRequest), isOptional: true, "application/json")
            .Answers(StatusCodes.Status200OK, "How many went back, and how many still wait.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .Answers(StatusCodes.Status404NotFound, "ProblemDetails: no pipeline queue of that name.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .Answers(StatusCodes.Status503ServiceUnavailable, "ProblemDetails: the broker could not be reached; retry (it is safe to repeat).");
        return app;
    }

    internal static async Task<Results<Ok<DeadLetterList>, ValidationProblem, ProblemHttpResult>> List(
        HttpContext http, DeadLetterBroker broker, IConfiguration configuration, CancellationToken ct)
    {
        if (!Tenant.IsOperator(http, configuration["Internal:Key"]))
        {
            return NotOperator();
        }
        var (tenant, limit) = (http.Request.Query["tenant"].ToString(), http.Request.Query["limit"].FirstOrDefault());
        var take = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, out take) || take is < 1 or > MaxLimit))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"must be a whole number from 1 to {MaxLimit}"] });
        }
        return await Broker(async () => TypedResults.Ok(await broker.List(string.IsNullOrWhiteSpace(tenant) ? null : tenant, take, ct)));
    }

    internal static async Task<Results<Ok<DeadLetterRetry>, ValidationProblem, ProblemHttpResult>> Retry(
        string queue, HttpContext http, DeadLetterBroker broker, IConfiguration configuration, CancellationToken ct)
    {
        if (!Tenant.IsOperator(http, configuration["Internal:Key"]))
        {
            return NotOperator();
        }
        if (DeadLetters.Resolve(queue, DeadLetterBroker.Queues) is not { } resolved)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such queue",
                detail: $"queue: '{queue}' is not a pipeline queue; one of {string.Join(", ", DeadLetterBroker.Queues)}.");
        }
        using var reader = new StreamReader(http.Request.Body);
        var (only, errors) = DeadLetters.ParseRetry(await reader.ReadToEndAsync(ct));
        if (errors is not null)
        {
            return TypedResults.ValidationProblem(errors);
        }
        return await Broker(async () => TypedResults.Ok(await broker.Retry(resolved, only, ct)));
    }

    /// <summary>A broker that is away answers 503 (safe to repeat), not 500.</summary>
    private static async Task<Results<Ok<T>, ValidationProblem, ProblemHttpResult>> Broker<T>(Func<Task<Ok<T>>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is BrokerUnreachableException or AlreadyClosedException or OperationInterruptedException or IOException)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Broker unavailable",
                detail: "The message broker could not be reached; retry shortly.");
        }
    }

    private static ProblemHttpResult NotOperator() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Not the operator",
            detail: "The admin API must come through the gateway with the operator key.");
}
