using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging;
using RabbitMQ.Client;

namespace Contacts.IntegrationTests;

/// <summary>
/// Erasure reaches every copy, through the gateway on a pipeline of its own: a customer with an alert, a phone shared with
/// a family member, a call held as ambiguous between them, a contact dead-lettered in effort and one dead-lettered in
/// identity before it was stitched. After DELETE /v1/customers/{id}, every table of every service and every error queue
/// is searched: their identifiers and contact content are nowhere, their id only in erasure tombstones and inboxes, and
/// the phone they shared is still the family member's.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ErasureTests(ServersFixture servers, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task An_erased_customer_leaves_no_identifier_or_content_in_any_table_outbox_or_error_queue_and_a_shared_phone_stays_the_others()
    {
        var isolation = await servers.Isolate("erasure");
        await using var pipeline = await TestPipeline.Create(isolation);
        using var http = pipeline.Client();
        var run = Guid.NewGuid().ToString("N")[..8];
        var n = Random.Shared.Next(1000, 4999);
        var (email, family, otherEmail) = ($"dana.{run}@erase.example", $"+44 20 7946 {n}", $"eli.{run}@erase.example");
        var familyE164 = $"+44207946{n}";
        var topic = $"erasure-topic-{run}";
        var now = DateTimeOffset.UtcNow;
        object Contact(string name, string channel, object identifiers, TimeSpan ago, string? about = null) => new
        {
            source = "erasure-test", sourceEventId = $"{run}-{name}", contactId = $"{run}-{name}", channel,
            kind = channel == "voice" ? "ended" : "message", occurredAt = now - ago, identifiers, topic = about ?? topic,
            summary = $"{name} said-{run}", outcome = channel == "voice" ? "callback_promised" : null,
            promise = channel == "voice" ? new { kind = "callback", dueAt = now - ago + TimeSpan.FromHours(1) } : null,
        };
        async Task<Guid> Push(object contact) => (await TestPipeline.Push(http, contact)).Id;

        // Dana: a three-channel journey (an alert) from the family phone and her own email.
        List<Guid> dana = [];
        dana.Add(await Push(Contact("x1", "voice", new { phone = family }, TimeSpan.FromDays(2))));
        dana.Add(await Push(Contact("x2", "web_form", new { phone = family, email }, TimeSpan.FromDays(1))));
        dana.Add(await Push(Contact("x3", "email", new { email }, TimeSpan.FromHours(1))));
        var danaId = (await Customer(http, $"?email={email}", c => c.GetProperty("timeline").GetArrayLength() == 3)).GetProperty("id").GetGuid();
        // Eli writes from the family phone with an email of his own: the phone is shared; a call from it alone is held.
        await Push(Contact("y1", "web_form", new { email = otherEmail, phone = family }, TimeSpan.FromMinutes(40), about: "eli's own"));
        var eliId = (await Customer(http, $"?email={otherEmail}", c => c.GetProperty("timeline").GetArrayLength() == 1)).GetProperty("id").GetGuid();
        var held = await Push(Contact("h1", "voice", new { phone = family }, TimeSpan.FromMinutes(30)));
        await Customer(http, $"/{danaId}", c => c.GetProperty("ambiguousContacts").GetArrayLength() == 1);
        await TestPipeline.Eventually(async () => await pipeline.Count("select count(*) from alerting.alerts where customer_id = @c", ("c", danaId)) > 0,
            Patience, () => Task.FromResult("no alert for Dana"));

        // A contact dead-lettered in effort (its journeys table gone for a moment), and one in identity before it was stitched.
        dana.Add(await DeadLettered(pipeline, "effort.journeys", PipelineTopology.EffortContactAttributed,
            () => Push(Contact("x5", "chat", new { email }, TimeSpan.FromMinutes(20)))));
        var unstitched = await DeadLettered(pipeline, "identity.customer_history", PipelineTopology.IdentityContactEvents,
            () => Push(Contact("x6", "chat", new { email }, TimeSpan.FromMinutes(10))));

        using (var erase = await http.DeleteAsync($"v1/customers/{danaId}"))
        {
            var body = await erase.Content.ReadAsStringAsync();
            Assert.True(erase.StatusCode == HttpStatusCode.Accepted, $"{(int)erase.StatusCode} {body}");
            var result = JsonSerializer.Deserialize<JsonElement>(body);
            Assert.Equal(4, result.GetProperty("contactEvents").GetInt32());
            Assert.Equal(1, result.GetProperty("heldContactEvents").GetInt32());
        }
        foreach (var (schema, consumer) in new[] { ("ingestion", "ingestion-customer-erased"), ("effort", "effort-customer-erased"), ("alerting", "alerting-customer-erased") })
        {
            await TestPipeline.Eventually(async () => await pipeline.Count($"select count(*) from {schema}.inbox where consumer = @c", ("c", consumer)) == 1,
                Patience, () => Task.FromResult($"{consumer} has not handled the erasure"));
        }

        // The family phone stays Eli's (shared, with no one else now); Dana's link to it is gone.
        var eli = await Customer(http, $"/{eliId}", _ => true);
        var shared = Assert.Single(eli.GetProperty("identifiers").EnumerateArray(), i => i.GetProperty("value").GetString() == familyE164);
        Assert.Empty(shared.GetProperty("sharedWith").EnumerateArray());
        Assert.DoesNotContain(danaId.ToString(), eli.GetRawText());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"v1/customers/{danaId}")).StatusCode);

        // Nothing of Dana's content anywhere: identifiers, topic, the platform's contact ids.
        string[] content = [email, topic, .. new[] { 1, 2, 3, 5, 6 }.Select(i => $"{run}-x{i}"), $"{run}-h1",
            .. new[] { 1, 2, 3, 5, 6 }.Select(i => $"x{i} said-{run}"), $"h1 said-{run}"];
        // Her ids only where an erasure or an inbox must keep them.
        string[] ids = [danaId.ToString(), .. dana.Select(d => d.ToString()), unstitched.ToString()];
        var found = new List<string>();
        foreach (var (schema, table) in await pipeline.Query("""
            select table_schema, table_name from information_schema.tables
            where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1, 2
            """, r => (r.GetString(0), r.GetString(1))))
        {
            var rows = await pipeline.Query($"""
                select t::text from "{schema}"."{table}" t
                where exists (select 1 from unnest(@needles) n where strpos(lower(t::text), lower(n)) > 0)
                """, r => r.GetString(0), ("needles", content.Concat(ids).Append(held.ToString()).ToArray()));
            foreach (var row in rows)
            {
                var named = content.Where(c => row.Contains(c, StringComparison.OrdinalIgnoreCase)).ToList();
                var allowed = named.Count == 0 && Tombstone(schema, table, row, danaId, held);
                output.WriteLine($"{(allowed ? "kept (allowed)" : "LEFT")}: {schema}.{table}: {row}");
                if (!allowed)
                {
                    found.Add($"{schema}.{table}: {row}");
                }
            }
        }
        Assert.True(found.Count == 0, "the erased customer is still in:\n" + string.Join("\n", found));

        // And in no error queue.
        foreach (var queue in PipelineTopology.Endpoints.Select(e => e.Queue + "_error"))
        {
            foreach (var body in await Browse(isolation.RabbitMq, queue))
            {
                Assert.DoesNotContain(content.Concat(ids), needle => body.Contains(needle, StringComparison.OrdinalIgnoreCase));
            }
        }
        Assert.Equal(0, await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, PipelineTopology.EffortContactAttributed + "_error"));
        Assert.Equal(0, await isolation.RabbitMqServer.QueueMessageCountAsync(isolation.Name, PipelineTopology.IdentityContactEvents + "_error"));
    }

    /// <summary>
    /// Where the erased id may stay: inboxes (message ids), the erasure's own records (identity's customer row and
    /// 'erased' history line, effort's and alerting's erased marks, the CustomerErased message in identity's outbox), the
    /// held call's bare id in the family member's history, and an erased contact's bare id where another customer's stream
    /// in effort held it.
    /// </summary>
    private static bool Tombstone(string schema, string table, string row, Guid customer, Guid held) => (schema, table) switch
    {
        (_, "inbox") => true,
        ("identity", "customers") => true, // ids, tenant, times and the erased mark only
        ("identity", "customer_history") => row.Contains(",erased,", StringComparison.Ordinal) || (row.Contains(held.ToString()) && !row.Contains(customer.ToString())),
        ("identity", "mt_events") => row.Contains(held.ToString()) && !row.Contains(customer.ToString()),
        ("identity", "outbox") => row.Contains("Contacts.Contracts.CustomerErased", StringComparison.Ordinal),
        ("effort", "erased_customers") => true,
        ("effort", "mt_events") => row.Contains(",contact_erased,", StringComparison.Ordinal), // an erased contact's bare id in another customer's stream
        ("alerting", "webhook_deliveries") => row.Contains("customer.erased", StringComparison.Ordinal), // the one event about them that stays
        ("alerting", "event_log") => row.Contains("customer.erased", StringComparison.Ordinal), // in the feed too
        ("alerting", "customer_alert_state") => row.EndsWith(",t)", StringComparison.Ordinal), // erased, nothing else kept
        _ => false,
    };

    /// <summary>Pushes a contact while the table is renamed away, waits for its dead letter in the queue's error queue, then restores the table.</summary>
    private async Task<Guid> DeadLettered(TestPipeline pipeline, string table, string queue, Func<Task<Guid>> push)
    {
        var name = table.Split('.')[1];
        var before = await pipeline.Isolation.RabbitMqServer.QueueMessageCountAsync(pipeline.Isolation.Name, queue + "_error");
        await pipeline.Query($"alter table {table} rename to {name}_gone", _ => 0);
        try
        {
            var id = await push();
            await TestPipeline.Eventually(async () => await pipeline.Isolation.RabbitMqServer.QueueMessageCountAsync(pipeline.Isolation.Name, queue + "_error") > before,
                Patience, () => Task.FromResult($"nothing dead-lettered in {queue}_error"));
            output.WriteLine($"{id} dead-lettered in {queue}_error");
            return id;
        }
        finally
        {
            await pipeline.Query($"alter table {table}_gone rename to {name}", _ => 0);
        }
    }

    private static Task<JsonElement> Customer(HttpClient http, string query, Func<JsonElement, bool> until) =>
        TestPipeline.Customer(http, query, until, Patience);

    /// <summary>Every message of a queue, read without taking any out (closing the channel gives them back).</summary>
    private static async Task<List<string>> Browse(string rabbitMq, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = new Uri(rabbitMq) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var bodies = new List<string>();
        try
        {
            while (await channel.BasicGetAsync(queue, autoAck: false) is { } got)
            {
                bodies.Add(Encoding.UTF8.GetString(got.Body.Span));
            }
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            // never declared: nothing ever failed there
        }
        return bodies;
    }
}
