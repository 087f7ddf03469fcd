using Contacts.Messaging.Outbox;
using Contacts.Messaging.Persistence;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Contacts.Messaging;

public static class MessagingSetup
{
    /// <summary>
    /// MassTransit on RabbitMQ from configuration, the pipeline topology, and the outbox relay. <paramref name="partitioned"/>
    /// names, for each stage of this service routed by customer (PipelineTopology.Partitioned), the batch consumer that takes
    /// its partition queues: one endpoint per partition, a single active consumer on each (RabbitMq:PartitionConcurrency
    /// batches at a time), so one customer's batches are handled by one instance at a time.
    /// </summary>
    public static WebApplicationBuilder AddMessaging(this WebApplicationBuilder builder, Action<IBusRegistrationConfigurator>? consumers = null,
        IReadOnlyList<(string Stage, Type Consumer)>? partitioned = null)
    {
        var section = builder.Configuration.GetSection("RabbitMq");
        var options = section.Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        options.ConnectionString = builder.Configuration.GetConnectionString("rabbitmq")
            ?? throw new InvalidOperationException("ConnectionStrings:rabbitmq is not set (e.g. amqp://guest:guest@127.0.0.1:5672/)");
        builder.Services.Configure<RabbitMqOptions>(o =>
        {
            section.Bind(o);
            o.ConnectionString = options.ConnectionString;
        });

        builder.Services.AddSingleton<TopologyState>();
        builder.Services.AddHostedService<TopologyDeployer>();
        builder.Services.AddHealthChecks().AddCheck<StartupGateHealthCheck<TopologyState>>("broker-topology", tags: ["ready"]);

        // Started before the bus finishes starting would lose early publishes; see DESIGN.md "Messaging".
        builder.Services.AddOptions<MassTransitHostOptions>().Configure(o =>
        {
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            o.StopTimeout = TimeSpan.FromSeconds(30);
        });
        builder.Services.AddMassTransit(x =>
        {
            // The pipeline carries customers' phone numbers: it must not call out anywhere it was not told to.
            x.DisableUsageTelemetry();
            x.SetKebabCaseEndpointNameFormatter();
            consumers?.Invoke(x);
            x.AddConfigureEndpointsCallback((queue, endpoint) =>
            {
                // Runs after the consumer definitions, so configuration can tune each queue (RabbitMq:Endpoints:{queue}:...).
                // A partition's endpoint is configured where it is made (below), whether or not MassTransit runs this for it.
                if (PipelineTopology.IsPartitionQueue(queue))
                {
                    return;
                }
                var tuning = section.GetSection($"Endpoints:{queue}");
                if (PipelineTopology.PartitionedStageOf(queue) is not null)
                {
                    // The topology deployer binds a partitioned stage's queues; MassTransit would bind its batches to the main queue too.
                    endpoint.ConfigureConsumeTopology = false;
                }
                if ((tuning.GetValue<int?>("ConcurrentMessageLimit") ?? options.ConcurrentMessageLimit) is { } limit)
                {
                    endpoint.ConcurrentMessageLimit = limit;
                }
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                {
                    rabbit.PrefetchCount = tuning.GetValue<ushort?>("PrefetchCount") ?? options.PrefetchCount;
                    if (options.QuorumQueues)
                    {
                        rabbit.SetQuorumQueue();
                    }
                }
            });
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(options.Address.Host, options.Port, options.VirtualHost, h =>
                {
                    h.Username(options.Username);
                    h.Password(options.Password);
                    h.PublisherConfirmation = true;
                    // A short heartbeat notices a dead connection in seconds; without it the client can sit on a connection
                    // the broker closed during a restart for minutes before recovery starts (seen with RabbitMQ.Client 7.1).
                    h.Heartbeat(TimeSpan.FromSeconds(options.HeartbeatSeconds));
                });
                cfg.ConfigureEndpoints(context);
                foreach (var (stage, consumer) in partitioned ?? [])
                {
                    for (var p = 0; p < options.Partitions; p++)
                    {
                        cfg.ReceiveEndpoint(PipelineTopology.PartitionQueue(stage, p), e =>
                        {
                            e.ConfigureConsumeTopology = false;
                            e.SingleActiveConsumer = true;
                            e.ConcurrentMessageLimit = options.PartitionConcurrency;
                            e.PrefetchCount = section.GetValue<ushort?>($"Endpoints:{stage}:PrefetchCount") ?? options.PrefetchCount;
                            if (options.QuorumQueues)
                            {
                                e.SetQuorumQueue();
                            }
                            e.ConfigureConsumer(context, consumer);
                        });
                    }
                }
            });
        });

        // Watches that each endpoint keeps taking its queue's messages, and restarts one that stalls (see ReceiveWatchdog).
        builder.Services.AddSingleton<ReceiveActivity>();
        builder.Services.AddReceiveObserver(sp => sp.GetRequiredService<ReceiveActivity>());
        builder.Services.AddReceiveEndpointObserver(sp => sp.GetRequiredService<ReceiveActivity>());
        if (StopReceiving.Asked(builder.Configuration))
        {
            builder.Services.AddSingleton<StopReceiving>();
            builder.Services.AddReceiveObserver(sp => sp.GetRequiredService<StopReceiving>());
        }
        builder.Services.AddOptions<ReceiveWatchdogOptions>().Bind(section.GetSection("Watchdog"));
        builder.Services.AddHostedService<ReceiveWatchdog>();

        builder.Services.AddOptions<OutboxOptions>().Bind(builder.Configuration.GetSection("Outbox"));
        builder.Services.AddSingleton<OutboxPublisher>();
        builder.Services.AddSingleton<OutboxHandoff>();
        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddHostedService<OutboxMonitor>();
        builder.Services.AddSingleton<ErasureSweep>();
        return builder;
    }
}

/// <summary>
/// The conventions every consumer of ours follows: its own named queue, bounded concurrency, and retries with backoff
/// for transient faults (database restarts, concurrency conflicts). A message that is invalid, or still fails after the
/// retries, is moved by MassTransit to "&lt;queue&gt;_error" with its exception, and the queue keeps flowing.
/// </summary>
public abstract class ContactsConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    protected ContactsConsumerDefinition(string queue, int concurrentMessageLimit = 32)
    {
        EndpointName = queue;
        ConcurrentMessageLimit = concurrentMessageLimit;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        // Outer: transient faults (database restarts and overload, concurrency conflicts) are retried for minutes.
        // Inner: anything else gets two quick retries, then the error queue; invalid messages go there at once.
        endpointConfigurator.UseMessageRetry(RetryConventions.Transient);
        endpointConfigurator.UseMessageRetry(RetryConventions.Other);
    }
}

public static class RetryConventions
{
    /// <summary>About five minutes of exponential backoff, capped at 30 s between tries: longer than a database failover.</summary>
    public static void Transient(IRetryConfigurator retry)
    {
        retry.Handle<Exception>(IsTransient);
        retry.Exponential(16, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));
    }

    public static void Other(IRetryConfigurator retry)
    {
        retry.Ignore<InvalidMessageException>();
        retry.Ignore<System.Text.Json.JsonException>();
        retry.Ignore<Exception>(IsTransient);
        retry.Intervals(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500));
    }

    /// <summary>Worth retrying: the same message will very likely succeed once the database or the competing writer is done.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        EventStore.ConcurrencyException or TimeoutException => true,
        // 53300 too many connections, 40001 serialization failure, 40P01 deadlock, 23505 a unique key a concurrent writer took first.
        Npgsql.PostgresException pg => pg.IsTransient || pg.SqlState is "53300" or "40001" or "40P01" or "23505" or "57P01" or "57P03",
        Npgsql.NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is System.Net.Sockets.SocketException or IOException,
        IOException or System.Net.Sockets.SocketException => true,
        _ => exception.InnerException is { } inner && IsTransient(inner),
    };
}

public static class ConsumeContextExtensions
{
    /// <summary>Runs the work once per (consumer, MessageId), in one transaction with its inbox record and outbox rows.</summary>
    public static Task<bool> HandleOnce<T>(this Database database, ConsumeContext<T> context, string consumer, Func<Session, Task> work)
        where T : class => Handle(database.HandleOnce, context, consumer, work);

    /// <summary>
    /// As <see cref="HandleOnce{T}"/>, sharing a transaction with the consumer's other messages waiting at the same moment
    /// (see Database.HandleOnceTogether): for the per-contact consumers, whose bursts are most of the pipeline's commits.
    /// </summary>
    public static Task<bool> HandleOnceTogether<T>(this Database database, ConsumeContext<T> context, string consumer, Func<Session, Task> work)
        where T : class => Handle(database.HandleOnceTogether, context, consumer, work);

    private static async Task<bool> Handle<T>(Func<string, Guid, Func<Session, Task>, CancellationToken, Task<bool>> handleOnce,
        ConsumeContext<T> context, string consumer, Func<Session, Task> work) where T : class
    {
        var handled = await handleOnce(consumer,
            context.MessageId ?? throw new InvalidMessageException($"{typeof(T).Name} arrived without a MessageId"),
            work, context.CancellationToken);
        // The outbox stamps sentTime with the upstream commit, so this is the stage's lag, queueing and relay included.
        if (handled && context.SentTime is { } sent)
        {
            ContactsTelemetry.StageLag.Record(Math.Max(0, (DateTime.UtcNow - sent).TotalSeconds),
                new KeyValuePair<string, object?>("consumer", consumer));
        }
        return handled;
    }
}
