using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using RabbitMQ.Client;

namespace Contacts.IntegrationTests;

/// <summary>
/// Pushes a known workload through the real pipeline, breaks something on the way, and checks the end state: every
/// contact exactly once in its customer's timeline, every EffortScored and alert present, no alert twice at the CRM.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Reliability")]
public sealed class ReliabilityTests(ServersFixture servers, ITestOutputHelper output)
{
    private const int People = 100; // three events each

    [Fact]
    public async Task Duplicate_submissions_and_duplicate_deliveries_have_one_effect()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("duplicates"));
        var workload = new Workload(People, "dup");
        using var http = pipeline.Client();
        await workload.Push(http, workload.All());

        // The same HTTP events submitted again: each is recognised, with the id it was first given.
        var again = new ConcurrentBag<(Guid Id, bool Duplicate)>();
        await Parallel.ForEachAsync(workload.All(), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (e, _) => again.Add(await TestPipeline.Push(http, e.Payload)));
        Assert.All(again, r => Assert.True(r.Duplicate));
        Assert.Equal(workload.Accepted.Keys.Order(), again.Select(r => r.Id).Order());

        await Settle(pipeline, workload);
        // The same messages delivered again: every service's outbox re-sends everything, with the original MessageIds.
        foreach (var schema in new[] { "ingestion", "identity", "effort", "alerting" })
        {
            await pipeline.Count($"with resent as (update {schema}.outbox set sent_at = null, next_attempt_at = now() returning 1) select count(*) from resent");
        }
        await TestPipeline.Eventually(async () => await pipeline.Count("""
            select (select count(*) from ingestion.outbox where sent_at is null) + (select count(*) from identity.outbox where sent_at is null)
                 + (select count(*) from effort.outbox where sent_at is null) + (select count(*) from alerting.outbox where sent_at is null)
            """) == 0, TimeSpan.FromSeconds(60), () => Task.FromResult("outboxes did not re-send"));
        var redelivered = await pipeline.Count("select count(*) from identity.outbox");

        Report("duplicate-delivery", await Settle(pipeline, workload));
        output.WriteLine($"  {redelivered} identity messages (and all others) were published a second time");
    }

    [Fact]
    public async Task A_consumer_crashing_after_its_commit_and_before_its_publish_loses_nothing()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("crash"), perService: new()
        {
            [LocalPipeline.Identity] = new Dictionary<string, string?> { ["Faults__CrashAfterCommit"] = "60" },
            [LocalPipeline.Effort] = new Dictionary<string, string?> { ["Faults__CrashAfterCommit"] = "150" },
        });
        var workload = new Workload(People, "crash");
        using var http = pipeline.Client();
        var pushing = workload.Push(http, workload.All());

        foreach (var service in new[] { LocalPipeline.Identity, LocalPipeline.Effort })
        {
            await TestPipeline.Eventually(() => Task.FromResult(pipeline.Pipeline[service].HasExited), TimeSpan.FromSeconds(60),
                () => Task.FromResult($"{service} did not reach its injected crash"));
            await (await pipeline.Pipeline.Recreate(service, 0, new Dictionary<string, string?> { ["Faults__CrashAfterCommit"] = "0" })).StartAsync();
        }
        await pushing;
        Report("crash-after-commit", await Settle(pipeline, workload));
    }

    [Fact]
    public async Task The_broker_stopped_and_restarted_while_events_flow_loses_nothing()
    {
        var (_, rabbit) = await servers.StartDedicated(postgres: false, rabbit: true);
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("broker_restart", rabbit: rabbit));
        Report("broker-restart", await RestartMidStream(pipeline, "broker", rabbit.StopAsync, () => rabbit.StartAgainAsync()));
    }

    [Fact]
    public async Task Services_killed_mid_stream_resume_without_loss_or_duplicates()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("sigkill"));
        var workload = new Workload(People, "kill");
        using var http = pipeline.Client();
        var pushing = workload.Push(http, workload.All(), parallelism: 2, pause: TimeSpan.FromMilliseconds(20));

        var at = 60;
        foreach (var service in new[] { LocalPipeline.Identity, LocalPipeline.Effort, LocalPipeline.Alerting })
        {
            await TestPipeline.Eventually(() => Task.FromResult(workload.Accepted.Count >= at), TimeSpan.FromSeconds(60), () => Task.FromResult("slow push"));
            pipeline.Pipeline[service].Kill();
            output.WriteLine($"  SIGKILL {service} after {workload.Accepted.Count} events accepted");
            await Task.Delay(500);
            await pipeline.Pipeline[service].StartAsync();
            at += 80;
        }
        await pushing;
        Report("sigkill", await Settle(pipeline, workload));
    }

    [Fact]
    public async Task The_database_restarted_mid_stream_loses_nothing()
    {
        var (postgres, _) = await servers.StartDedicated(postgres: true, rabbit: false);
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("db_restart", postgres: postgres));
        Report("database-restart", await RestartMidStream(pipeline, "database", postgres.StopAsync, () => postgres.StartAgainAsync()));
    }

    /// <summary>Stops a server once a third of the workload is in, keeps pushing through the outage, and starts it again.</summary>
    private async Task<Outcome> RestartMidStream(TestPipeline pipeline, string what, Func<Task> stop, Func<Task> start)
    {
        var workload = new Workload(People, what);
        using var http = pipeline.Client();
        var pushing = workload.Push(http, workload.All(), parallelism: 2, pause: TimeSpan.FromMilliseconds(20));

        await TestPipeline.Eventually(() => Task.FromResult(workload.Accepted.Count >= 100), TimeSpan.FromSeconds(60), () => Task.FromResult("slow push"));
        await stop();
        output.WriteLine($"  {what} stopped after {workload.Accepted.Count} events accepted");
        await Task.Delay(2000);
        await start();
        output.WriteLine($"  {what} started again after {workload.Accepted.Count} events accepted");
        await pushing;
        return await Settle(pipeline, workload, TimeSpan.FromSeconds(180));
    }

    [Fact]
    public async Task A_poison_message_lands_in_the_error_queue_and_the_events_behind_it_arrive()
    {
        var isolation = await servers.Isolate("poison");
        await using var pipeline = await TestPipeline.Create(isolation);
        var workload = new Workload(People, "poison");
        using var http = pipeline.Client();
        var events = workload.All().ToList();
        await workload.Push(http, events.Take(events.Count / 2));

        // Two poison messages: bytes that are not a message at all, and a well-formed one no customer can be built from.
        var factory = new ConnectionFactory { Uri = new Uri(isolation.RabbitMq) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true, MessageId = Guid.NewGuid().ToString() };
            await channel.BasicPublishAsync("Contacts.Contracts:ContactEventReceived", "", true, properties, Encoding.UTF8.GetBytes("this is not a message {"));
            var invalid = JsonSerializer.Serialize(new
            {
                messageId = Guid.NewGuid(),
                messageType = new[] { "urn:message:Contacts.Contracts:ContactEventReceived" },
                message = new
                {
                    id = Guid.NewGuid(), tenantId = "", source = "x", sourceEventId = "x", contactId = "x", channel = "",
                    direction = "inbound", kind = "message", occurredAt = DateTimeOffset.UtcNow, receivedAt = DateTimeOffset.UtcNow,
                    identifiers = Array.Empty<object>(),
                },
            });
            properties.MessageId = Guid.NewGuid().ToString();
            await channel.BasicPublishAsync("Contacts.Contracts:ContactEventReceived", "", true, properties, Encoding.UTF8.GetBytes(invalid));
        }
        await workload.Push(http, events.Skip(events.Count / 2));

        var outcome = await Settle(pipeline, workload);
        var errors = await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, $"{PipelineQueues.Identity}_error");
        output.WriteLine($"  {errors} messages in {PipelineQueues.Identity}_error");
        Assert.Equal(2, errors);
        Report("poison-message", outcome);
    }

    [Fact]
    public async Task Two_instances_of_identity_and_effort_give_the_one_instance_result()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("two_instances"));
        await Task.WhenAll(
            pipeline.Pipeline.Add(LocalPipeline.Identity, 1).StartAsync(),
            pipeline.Pipeline.Add(LocalPipeline.Effort, 1).StartAsync());
        var workload = new Workload(People, "pair");
        using var http = pipeline.Client();
        await workload.Push(http, workload.All(), parallelism: 16);

        var outcome = await Settle(pipeline, workload);
        var handledByEach = await pipeline.Query("select count(*) from identity.inbox", r => r.GetInt64(0));
        output.WriteLine($"  identity handled {handledByEach.Single()} messages across both instances");
        Report("two-instances", outcome);
        // The one-instance result: one customer per person holding all three contacts, each journey scored 70.
        Assert.Equal(People, await pipeline.Count("select count(*) from identity.customers where merged_into is null"));
        Assert.Equal([70], (await pipeline.Query("""
            select distinct e.score from effort.customer_effort e join identity.customers c on c.id = e.customer_id where c.merged_into is null
            """, r => r.GetInt32(0))));
    }

    [Fact]
    public async Task Events_published_before_their_consumer_ever_ran_are_delivered_when_it_starts()
    {
        var isolation = await servers.Isolate("late_consumer");
        await using var pipeline = await TestPipeline.Create(isolation,
            start: [LocalPipeline.Ingestion, LocalPipeline.Effort, LocalPipeline.Alerting, LocalPipeline.Gateway]);
        var workload = new Workload(People, "late");
        using var http = pipeline.Client();
        await workload.Push(http, workload.All());

        await TestPipeline.Eventually(async () =>
            await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, PipelineQueues.Identity) == workload.Events,
            TimeSpan.FromSeconds(60), async () => $"{await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, PipelineQueues.Identity)} waiting");
        output.WriteLine($"  {workload.Events} events waiting in {PipelineQueues.Identity} before identity's first start");
        await pipeline.Pipeline[LocalPipeline.Identity].StartAsync();
        Report("consumer-started-last", await Settle(pipeline, workload));
    }

    private static async Task<Outcome> Settle(TestPipeline pipeline, Workload workload, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        while (DateTimeOffset.UtcNow < deadline && !(await Outcome.Measure(pipeline, workload)).Complete(workload))
        {
            await Task.Delay(250);
        }
        await Task.Delay(2000); // long enough for a late duplicate to show itself
        return await Outcome.Measure(pipeline, workload);
    }

    private void Report(string scenario, Outcome outcome)
    {
        var line = outcome.Line(scenario);
        output.WriteLine(line);
        Directory.CreateDirectory(ServersFixture.LogRoot);
        File.AppendAllText(Path.Combine(ServersFixture.ResultsRoot, "reliability.txt"), line + Environment.NewLine);
        Assert.True(outcome.Problems.Count == 0, string.Join("; ", outcome.Problems));
        Assert.Equal(0, outcome.Lost);
        Assert.Equal(0, outcome.Duplicated);
    }
}

/// <summary>The queue names, as the services declare them.</summary>
internal static class PipelineQueues
{
    public const string Identity = Contacts.ServiceDefaults.Messaging.PipelineTopology.IdentityContactEvents;
}
