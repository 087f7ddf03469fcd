using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Contacts.Dev.Pipeline;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging;
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

        var reported = await Report(pipeline, "duplicate-delivery", await Settle(pipeline, workload));
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
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
        var reported = await Report(pipeline, "crash-after-commit", await Settle(pipeline, workload));
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
    }

    [Fact]
    public async Task A_receive_endpoint_that_stops_taking_messages_is_restarted_by_its_watchdog_and_loses_nothing()
    {
        // Each endpoint is stopped mid-stream, as a consumer lost after a broker restart would be: its messages wait in the
        // queue while the service still runs. Only the watchdog can bring them back.
        static Dictionary<string, string?> StopAfter(string queue, int messages) => new()
        {
            ["Faults__StopReceiving"] = $"{queue}:{messages}",
            ["RabbitMq__Watchdog__Interval"] = "00:00:01",
            ["RabbitMq__Watchdog__StallAfter"] = "00:00:05",
        };
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("stalled_endpoint"), perService: new()
        {
            // Messages, not contacts: a message carries the contacts committed together upstream (most hold one to three here).
            [LocalPipeline.Identity] = StopAfter(PipelineTopology.IdentityContactEvents, 20),
            [LocalPipeline.Effort] = StopAfter(PipelineTopology.EffortContactAttributed, 20),
        });
        var workload = new Workload(People, "stall");
        using var http = pipeline.Client();
        await workload.Push(http, workload.All(), parallelism: 2, pause: TimeSpan.FromMilliseconds(20));
        var reported = await Report(pipeline, "stalled-endpoint", await Settle(pipeline, workload, TimeSpan.FromSeconds(120)));
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");

        // Both faults happened, and the watchdog, not anything else, brought the endpoints back: identity's queue, and the
        // partition of effort's stage (routed by customer) that took effort's 20th message.
        foreach (var (service, queue, endpoint) in new[] { (LocalPipeline.Identity, PipelineTopology.IdentityContactEvents, PipelineTopology.IdentityContactEvents),
                     (LocalPipeline.Effort, PipelineTopology.EffortContactAttributed, PipelineTopology.EffortContactAttributed + "-[0-9]+") })
        {
            var log = await File.ReadAllTextAsync(pipeline.Pipeline[service].LogFile);
            var stopped = System.Text.RegularExpressions.Regex.Match(log, $"stopping the receive endpoint of ({endpoint}) after message 20 of {queue}\\b");
            Assert.True(stopped.Success, $"no fault injected on {queue}");
            Assert.Contains($"Receive endpoint {stopped.Groups[1].Value} restarted by the watchdog", log);
        }
    }

    [Fact]
    public async Task The_broker_stopped_and_restarted_while_events_flow_loses_nothing()
    {
        var (_, rabbit) = await servers.StartDedicated(postgres: false, rabbit: true);
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("broker_restart", rabbit: rabbit));
        var reported = await Report(pipeline, "broker-restart", await RestartMidStream(pipeline, "broker", rabbit.StopAsync, () => rabbit.StartAgainAsync()));
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
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
        var reported = await Report(pipeline, "sigkill", await Settle(pipeline, workload));
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
    }

    [Fact]
    public async Task The_database_restarted_mid_stream_loses_nothing()
    {
        var (postgres, _) = await servers.StartDedicated(postgres: true, rabbit: false);
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("db_restart", postgres: postgres));
        var reported = await Report(pipeline, "database-restart", await RestartMidStream(pipeline, "database", postgres.StopAsync, () => postgres.StartAgainAsync()));
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
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
        var reported = await Report(pipeline, "poison-message", outcome);
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 2, $"{reported.DeadLettered} messages dead-lettered, 2 expected");
    }

    [Fact]
    public async Task A_poison_item_inside_a_batch_of_100_is_dead_lettered_alone_with_its_reason_and_the_other_99_flow()
    {
        var isolation = await servers.Isolate("poison_in_batch");
        await using var pipeline = await TestPipeline.Create(isolation);
        // One batch message as ingestion's relay sends them: 99 contacts of 99 people, and at index 42 one that no
        // customer can be built from (no tenant, no channel, no identifiers).
        var now = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 100).Select(_ => Guid.NewGuid()).ToArray();
        const int poison = 42;
        object Contact(int i) => i == poison
            ? new { id = ids[i], tenantId = "", source = "x", sourceEventId = "x", contactId = "x", channel = "", direction = "inbound", kind = "message",
                occurredAt = now, receivedAt = now, identifiers = Array.Empty<object>() }
            : new { id = ids[i], tenantId = "batch", source = "bench", sourceEventId = $"e{i}", contactId = $"c{i}", channel = "chat", direction = "inbound",
                kind = "message", occurredAt = now, receivedAt = now, identifiers = new[] { new { type = "email", value = $"person{i}@example.com" } } };
        var batchId = Guid.NewGuid();
        var envelope = JsonSerializer.Serialize(new
        {
            messageId = batchId,
            messageType = new[] { "urn:message:Contacts.Contracts:ContactEventReceivedBatch" },
            message = new { id = batchId, items = ids.Select((id, i) => new { messageId = id, sentAt = now, traceparent = (string?)null, message = Contact(i) }) },
        });
        var factory = new ConnectionFactory { Uri = new Uri(isolation.RabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true, MessageId = batchId.ToString() };
            await channel.BasicPublishAsync("Contacts.Contracts:ContactEventReceivedBatch", "", true, properties, Encoding.UTF8.GetBytes(envelope));
        }

        var good = ids.Where((_, i) => i != poison).ToArray();
        async Task<long> Scored() => await pipeline.Count("""
            select count(distinct body->>'contactEventId') from effort.outbox where message_type = 'Contacts.Contracts.EffortScored' and (body->>'contactEventId')::uuid = any(@ids)
            """, ("ids", good));
        var errorQueue = $"{PipelineQueues.Identity}_error";
        await TestPipeline.Eventually(async () => await Scored() == 99 && await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, errorQueue) == 1,
            TimeSpan.FromSeconds(90), async () => $"{await Scored()} of 99 scored, {await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, errorQueue)} dead-lettered");
        await Task.Delay(2000); // long enough for a late duplicate to show itself

        // Each good contact attributed once and scored once; the poison one stitched nowhere.
        var attributed = await pipeline.Query("""
            select body->>'contactEventId', count(*) from identity.outbox where message_type = 'Contacts.Contracts.ContactAttributed'
            and (body->>'contactEventId')::uuid = any(@ids) group by 1
            """, r => r.GetInt64(1), ("ids", ids));
        var scored = await pipeline.Query("""
            select body->>'contactEventId', count(*) from effort.outbox where message_type = 'Contacts.Contracts.EffortScored'
            and (body->>'contactEventId')::uuid = any(@ids) group by 1
            """, r => r.GetInt64(1), ("ids", ids));
        Assert.Equal(99, attributed.Count);
        Assert.Equal(99, scored.Count);
        Assert.All(attributed.Concat(scored), n => Assert.Equal(1, n));
        Assert.Equal(0, await pipeline.Count("select count(*) from identity.inbox where message_id = @id", ("id", ids[poison])));
        Assert.Equal(99, await pipeline.Count("select count(*) from identity.inbox where message_id = any(@ids)", ("ids", good)));

        // The error queue holds the poison item alone, as a batch of one under its own id, with the reason it failed.
        await using (var channel = await connection.CreateChannelAsync())
        {
            var dead = await channel.BasicGetAsync(errorQueue, autoAck: false);
            Assert.NotNull(dead);
            using var body = JsonDocument.Parse(dead.Body);
            var items = body.RootElement.GetProperty("message").GetProperty("items");
            Assert.Equal(ids[poison], Assert.Single(items.EnumerateArray()).GetProperty("messageId").GetGuid());
            var reason = Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers!["MT-Fault-Message"]!);
            Assert.Contains("lacks an id, tenant, channel or well-formed identifiers", reason);
            await channel.BasicNackAsync(dead.DeliveryTag, false, requeue: true);
        }
        var line = $"reliability: poison-in-batch events=100 lost={99 - scored.Count} duplicated={attributed.Concat(scored).Count(n => n > 1)} dead-lettered=1";
        output.WriteLine(line);
        Directory.CreateDirectory(ServersFixture.ResultsRoot);
        File.AppendAllText(Path.Combine(ServersFixture.ResultsRoot, "reliability.txt"), line + Environment.NewLine);
    }

    [Fact]
    public async Task Two_instances_of_every_service_give_the_one_instance_result()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("two_instances"));
        var services = new[] { LocalPipeline.Ingestion, LocalPipeline.Identity, LocalPipeline.Effort, LocalPipeline.Alerting };
        var second = services.Select(s => pipeline.Pipeline.Add(s, 1)).ToList();
        // A second gateway in front of the second ingestion instance, so both ingestion instances take events.
        second.Add(pipeline.Pipeline.Add(LocalPipeline.Gateway, 1, new Dictionary<string, string?>
        {
            ["Gateway__Services__ingestion"] = pipeline.Pipeline[LocalPipeline.Ingestion, 1].BaseAddress.ToString(),
        }));
        await Task.WhenAll(second.Select(p => p.StartAsync()));

        var workload = new Workload(TwoInstancePeople, "pair", WorkloadShape.Piecemeal);
        using var first = pipeline.Client();
        using var other = pipeline.Client(gateway: 1);
        await workload.Push([first, other], workload.All(), parallelism: 16);

        var outcome = await Settle(pipeline, workload, TimeSpan.FromSeconds(180));
        var handled = await pipeline.Query("select count(*) from identity.inbox", r => r.GetInt64(0));
        var merges = await pipeline.Count("select count(*) from identity.customers where merged_into is not null");
        output.WriteLine($"  identity handled {handled.Single()} messages across both instances; {merges} customers merged");
        var reported = await Report(pipeline, "two-instances", outcome);
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
        // The one-instance result: one customer per person holding all their contacts, every journey scored alike.
        Assert.Equal(TwoInstancePeople, await pipeline.Count("select count(*) from identity.customers where merged_into is null"));
        var scores = await pipeline.Query("""
            select distinct e.score from effort.customer_effort e join identity.customers c on c.id = e.customer_id where c.merged_into is null
            """, r => r.GetInt32(0));
        Assert.True(scores.Count == 1 && scores[0] >= 60, $"every person's journey should score the same, over the threshold: {string.Join(", ", scores)}");
        Assert.True(merges >= TwoInstancePeople / 2, $"the workload should make many merges, made {merges}");
        // One open alert per person, on the customer the person is now.
        var alerted = await pipeline.Count("""
            select count(*) from alerting.alerts a join identity.customers c on c.id = a.customer_id where a.status = 'open' and c.merged_into is null
            """);
        Assert.True(alerted == TwoInstancePeople, $"{alerted} of {TwoInstancePeople} people have one open alert on the customer they are now:\n"
            + await AlertHistoryOfPeopleWithout(pipeline));
    }

    /// <summary>For a failure's message: the alerts and alerting's view of each survivor with no open alert, and of the customers merged into it.</summary>
    private static async Task<string> AlertHistoryOfPeopleWithout(TestPipeline pipeline)
    {
        var survivors = await pipeline.Query("""
            select c.id from identity.customers c where c.merged_into is null
            and not exists (select 1 from alerting.alerts a where a.customer_id = c.id and a.status = 'open') limit 3
            """, r => r.GetGuid(0));
        var lines = new List<string>();
        foreach (var survivor in survivors)
        {
            var family = await pipeline.Query("""
                with recursive f(id) as (select @id::uuid union select c.id from identity.customers c join f on c.merged_into = f.id) select id from f
                """, r => r.GetGuid(0), ("id", survivor));
            lines.Add($"survivor {survivor}, family {string.Join(", ", family)}");
            lines.AddRange(await pipeline.Query("""
                select customer_id, score_version, score, merged_into, updated_at from alerting.customer_alert_state where customer_id = any(@ids)
                """, r => $"  state {r.GetGuid(0)} v{(r.IsDBNull(1) ? "-" : r.GetInt64(1))} score {(r.IsDBNull(2) ? "-" : r.GetInt32(2))} "
                    + $"merged_into {(r.IsDBNull(3) ? "-" : r.GetGuid(3))} at {r.GetDateTime(4):HH:mm:ss.fff}", ("ids", family.ToArray())));
            lines.AddRange(await pipeline.Query("""
                select id, customer_id, status, coalesce(resolution, '-'), score, coalesce(score_version, -1), raised_at, closed_at, superseded_by
                from alerting.alerts where customer_id = any(@ids) order by raised_at
                """, r => $"  alert {r.GetGuid(0)} on {r.GetGuid(1)} {r.GetString(2)}/{r.GetString(3)} score {r.GetInt32(4)} v{r.GetInt64(5)} "
                    + $"raised {r.GetDateTime(6):HH:mm:ss.fff} closed {(r.IsDBNull(7) ? "-" : r.GetDateTime(7).ToString("HH:mm:ss.fff"))} "
                    + $"superseded_by {(r.IsDBNull(8) ? "-" : r.GetGuid(8))}", ("ids", family.ToArray())));
            lines.AddRange(await pipeline.Query("""
                select customer_id, version, score from effort.customer_effort where customer_id = any(@ids)
                """, r => $"  effort {r.GetGuid(0)} v{r.GetInt64(1)} score {r.GetInt32(2)}", ("ids", family.ToArray())));
            lines.AddRange(await pipeline.Query("""
                select body->>'customerId', (body->>'version')::bigint, (body->>'score')::int, body->'mergedCustomerIds', created_at
                from effort.outbox where message_type = 'Contacts.Contracts.EffortScored' and (body->>'customerId')::uuid = any(@ids) order by 2
                """, r => $"  scored {r.GetString(0)} v{r.GetInt64(1)} score {r.GetInt32(2)} merged {(r.IsDBNull(3) ? "-" : r.GetString(3))} at {r.GetDateTime(4):HH:mm:ss.fff}",
                ("ids", family.ToArray())));
        }
        return string.Join("\n", lines);
    }

    private const int TwoInstancePeople = 200; // five events each, arriving piecemeal

    [Fact]
    public async Task Alerting_killed_while_its_webhooks_are_in_flight_redelivers_them_under_the_same_webhook_id()
    {
        await using var pipeline = await TestPipeline.Create(await servers.Isolate("webhook_kill"), perService: new()
        {
            [LocalPipeline.Alerting] = new Dictionary<string, string?> { ["Alerting__Webhook__Timeout"] = "00:00:20" },
        });
        const int people = 20;
        var workload = new Workload(people, "inflight");
        using var http = pipeline.Client();
        // The CRM takes the POSTs but does not answer: every alert is in flight when alerting dies.
        pipeline.Crm.Hold();
        await workload.Push(http, workload.All());
        // Counted on the raised webhooks: escalations and merges of the same alerts are webhooks of their own.
        List<Contacts.Dev.Pipeline.ReceivedWebhook> Raised() => [.. pipeline.Crm.Received.Where(w =>
            System.Text.Json.JsonDocument.Parse(w.Body).RootElement.GetProperty("type").GetString() == "alert.raised")];
        await TestPipeline.Eventually(() => Task.FromResult(Raised().Count >= people), TimeSpan.FromSeconds(120),
            () => Task.FromResult($"{Raised().Count} webhooks received"));
        pipeline.Pipeline[LocalPipeline.Alerting].Kill();
        output.WriteLine($"  SIGKILL alerting with {pipeline.Crm.Received.Count} webhooks in flight");
        pipeline.Crm.Release();
        await pipeline.Pipeline[LocalPipeline.Alerting].StartAsync();

        // Redelivered once their claim (timeout + margin) runs out.
        await TestPipeline.Eventually(() => Task.FromResult(Raised().Count >= 2 * people), TimeSpan.FromSeconds(120),
            () => Task.FromResult($"{Raised().Count} webhooks received"));
        var outcome = await Settle(pipeline, workload);
        // Each alert reached the CRM again under its webhook-id (the spec's redelivery), and is still one alert.
        Assert.True(outcome.Redelivered >= people, $"{outcome.Redelivered} redelivered");
        Assert.All(Raised().GroupBy(w => w.Id), g => Assert.True(g.Count() >= 2));
        var reported = await Report(pipeline, "webhook-in-flight-kill", outcome);
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
    }

    [Fact]
    public async Task Alerting_starved_of_database_connections_retries_instead_of_dead_lettering()
    {
        // Alerting logs in as a role PostgreSQL lets hold only a few connections: beyond them it answers 53300 (too many
        // connections), the fault that once dead-lettered EffortScored and so lost alerts while every score was published.
        var isolation = await servers.Isolate("starved");
        var role = $"starved_{isolation.Name}";
        await using (var admin = new Npgsql.NpgsqlConnection(isolation.Postgres))
        {
            await admin.OpenAsync();
            // The same password as the admin's: a server in a container checks passwords, a local test server trusts.
            var password = new Npgsql.NpgsqlConnectionStringBuilder(isolation.Postgres).Password;
            await using var create = new Npgsql.NpgsqlCommand(
                $"create role \"{role}\" login connection limit 4{(password is null ? "" : $" password '{password.Replace("'", "''")}'")}; " +
                $"grant all on database \"{isolation.Name}\" to \"{role}\"", admin);
            await create.ExecuteNonQueryAsync();
        }
        var starved = new Npgsql.NpgsqlConnectionStringBuilder(isolation.Postgres) { Username = role }.ConnectionString;
        // Two of the role's four connections stay taken throughout, so alerting has two: its consumers, relay and background
        // work overlap beyond that whenever the workload arrives. (With all four, alerting's joined sets rarely needed a
        // fifth, and the scenario sometimes tested nothing.)
        var unpooled = new Npgsql.NpgsqlConnectionStringBuilder(starved) { Pooling = false }.ConnectionString;
        await using var heldFirst = new Npgsql.NpgsqlConnection(unpooled);
        await using var heldSecond = new Npgsql.NpgsqlConnection(unpooled);
        await heldFirst.OpenAsync();
        await heldSecond.OpenAsync();
        await using var pipeline = await TestPipeline.Create(isolation, perService: new()
        {
            // A transaction per message, as before shared transactions: scores sharing one rarely need the fifth connection.
            [LocalPipeline.Alerting] = new Dictionary<string, string?> { ["ConnectionStrings__postgres"] = starved, ["Persistence__BatchLimit"] = "1" },
        });
        var workload = new Workload(People, "starved");
        using var http = pipeline.Client();
        await workload.Push(http, workload.All(), parallelism: 16);
        var outcome = await Settle(pipeline, workload, TimeSpan.FromSeconds(180));
        using var log = new StreamReader(new FileStream(Path.Combine(pipeline.Pipeline.Settings.LogDirectory, "alerting-0.log"),
            FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var refused = (await log.ReadToEndAsync()).Split('\n').Count(l => l.Contains("53300"));
        output.WriteLine($"  alerting's log mentions 53300 (too many connections) {refused} times");
        Assert.True(refused > 0, "alerting never ran out of connections: the scenario tests nothing");
        var reported = await Report(pipeline, "connection-starved", outcome);
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
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

        // Every accepted event relayed (ingestion's outbox confirmed them all to the broker), and held in identity's queue.
        async Task<long> Unrelayed() => await pipeline.Count("select count(*) from ingestion.outbox where sent_at is null");
        await TestPipeline.Eventually(async () => await pipeline.Count("select count(*) from ingestion.outbox") == workload.Events && await Unrelayed() == 0,
            TimeSpan.FromSeconds(60), async () => $"{await Unrelayed()} of {workload.Events} events not relayed yet");
        var waiting = await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, PipelineQueues.Identity);
        Assert.True(waiting > 0, $"nothing waits in {PipelineQueues.Identity}");
        output.WriteLine($"  {workload.Events} events in {waiting} messages waiting in {PipelineQueues.Identity} before identity's first start");
        await pipeline.Pipeline[LocalPipeline.Identity].StartAsync();
        var reported = await Report(pipeline, "consumer-started-last", await Settle(pipeline, workload));
        Assert.True(reported.Problems.Count == 0, reported.Summary);
        Assert.True(reported.Lost == 0, $"{reported.Lost} lost (contacts off the timeline, scores or alerts missing): {reported.Summary}");
        Assert.True(reported.Duplicated == 0, $"{reported.Duplicated} duplicated (extra scores or alerts): {reported.Summary}");
        Assert.True(reported.DeadLettered == 0, $"{reported.DeadLettered} messages dead-lettered, 0 expected");
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

    /// <summary>
    /// Counts the messages in the pipeline's error queues, writes the scenario's line to the output and to
    /// TestResults/reliability.txt (with a diagnosis of people alerted never or twice), and gives the outcome back with its
    /// dead letters. It asserts nothing: each scenario states what it expects of the outcome in its own body.
    /// </summary>
    private async Task<Outcome> Report(TestPipeline pipeline, string scenario, Outcome outcome)
    {
        long deadLettered = 0;
        var rabbit = pipeline.Isolation.RabbitMqServer;
        foreach (var (queue, _) in Contacts.Messaging.PipelineTopology.Endpoints)
        {
            var errors = await rabbit.QueueMessageCountAsync(pipeline.Isolation.Name, $"{queue}_error");
            if (errors > 0)
            {
                output.WriteLine($"  {errors} messages dead-lettered in {queue}_error");
            }
            deadLettered += errors;
            // Whether something lost was dropped or is waiting for a consumer that never came back (seen once after a
            // broker restart: one service's receive endpoint did not reconnect).
            if (outcome.Lost > 0 || outcome.Problems.Count > 0)
            {
                var (waiting, consumers) = await rabbit.QueueCountsAsync(pipeline.Isolation.Name, queue);
                output.WriteLine($"  queue {queue}: {waiting} messages waiting, {consumers} consumers");
            }
        }
        outcome = outcome with { DeadLettered = deadLettered };
        var line = outcome.Line(scenario);
        output.WriteLine(line);
        Directory.CreateDirectory(ServersFixture.ResultsRoot);
        File.AppendAllText(Path.Combine(ServersFixture.ResultsRoot, "reliability.txt"), line + Environment.NewLine);
        if (outcome.Unalerted.Count + outcome.AlertedTwice.Count > 0)
        {
            await Diagnose(pipeline, outcome);
        }
        return outcome;
    }

    /// <summary>For each person without an alert: every customer id they ever had, the scores seen for them, and alerting's state.</summary>
    private async Task Diagnose(TestPipeline pipeline, Outcome outcome)
    {
        var merges = (await pipeline.Query("select id, merged_into from identity.customers where merged_into is not null",
            r => (Id: r.GetGuid(0), Into: r.GetGuid(1)))).ToList();
        foreach (var (person, customers, what) in outcome.Unalerted.Take(5).Select(u => (u.Person, u.Customers, "without an alert"))
                     .Concat(outcome.AlertedTwice.Take(5).Select(d => (d.Person, d.Customers, "alerted more than once"))))
        {
            var all = new HashSet<Guid>(customers);
            for (var grew = true; grew;)
            {
                grew = merges.Where(m => all.Contains(m.Into)).Aggregate(false, (g, m) => all.Add(m.Id) | g);
            }
            output.WriteLine($"  person {person} ({what}): customers {string.Join(", ", all)}; merges {string.Join(", ", merges.Where(m => all.Contains(m.Id)).Select(m => $"{m.Id}->{m.Into}"))}");
            foreach (var scored in pipeline.Tap.Of("EffortScored").Where(m => all.Contains(m.Message.GetProperty("customerId").GetGuid())))
            {
                var m = scored.Message;
                var named = m.TryGetProperty("mergedCustomerIds", out var ids) && ids.ValueKind == System.Text.Json.JsonValueKind.Array
                    ? string.Join(" ", ids.EnumerateArray().Select(i => i.GetString())) : "-";
                output.WriteLine($"    EffortScored customer={m.GetProperty("customerId")} version={m.GetProperty("version")} score={m.GetProperty("score")} contact={m.GetProperty("contactEventId")} merged={named}");
            }
            foreach (var row in await pipeline.Query("""
                select customer_id::text || ' version=' || coalesce(score_version::text, '-') || ' score=' || coalesce(score::text, '-') || ' merged_into=' || coalesce(merged_into::text, '-')
                from alerting.customer_alert_state where customer_id = any(@ids)
                """, r => r.GetString(0), ("ids", all.ToArray())))
            {
                output.WriteLine($"    alerting state {row}");
            }
            foreach (var row in await pipeline.Query("""
                select id::text || ' customer=' || customer_id || ' status=' || status || ' score=' || score || ' raised=' || raised_at
                    || ' closed=' || coalesce(closed_at::text, '-') || ' resolution=' || coalesce(resolution, '-')
                from alerting.alerts where customer_id = any(@ids) order by raised_at
                """, r => r.GetString(0), ("ids", all.ToArray())))
            {
                output.WriteLine($"    alert {row}");
            }
        }
    }
}

/// <summary>The queue names, as the services declare them.</summary>
internal static class PipelineQueues
{
    public const string Identity = Contacts.Messaging.PipelineTopology.IdentityContactEvents;
}
