using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Contracts;
using Contacts.Messaging.Outbox;
using Contacts.Messaging.Persistence;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Contacts.Messaging;

/// <summary>
/// What an erasure looks for in a message: the tenant, and the values that tie a message to the erased person (their
/// customer ids, contact event ids and, in identity, the identifiers they alone held), compared ignoring case.
/// </summary>
public sealed record ErasureTraces(string Tenant, IReadOnlySet<string> Values)
{
    public static ErasureTraces Of(string tenant, IEnumerable<Guid> ids, IEnumerable<string>? identifierValues = null) =>
        new(tenant, ids.Select(id => id.ToString()).Concat(identifierValues ?? []).ToHashSet(StringComparer.OrdinalIgnoreCase));
}

/// <summary>What becomes of one dead letter when a customer is erased; Messages are the ids of the messages taken out.</summary>
public abstract record DeadLetterFate
{
    public sealed record Keep : DeadLetterFate;

    public sealed record Drop(IReadOnlyList<Guid> Messages) : DeadLetterFate;

    /// <summary>A batch with items of other people too: sent back without the erased person's items.</summary>
    public sealed record Strip(byte[] Body, IReadOnlyList<Guid> Messages) : DeadLetterFate;
}

/// <summary>
/// Pure: judges a dead letter's body against an erasure. A message (or batch item) is the erased person's when it is
/// of their tenant (or names none) and any string in it is one of the traced values; a body that is not JSON is judged
/// on its raw text, since it cannot be read item by item.
/// </summary>
public static class DeadLetterErasure
{
    public static DeadLetterFate Judge(ReadOnlySpan<byte> body, ErasureTraces traces)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body.ToArray());
        }
        catch (JsonException)
        {
            var text = Encoding.UTF8.GetString(body);
            return traces.Values.Any(v => text.Contains(v, StringComparison.OrdinalIgnoreCase)) ? new DeadLetterFate.Drop([]) : new DeadLetterFate.Keep();
        }
        if (root is not JsonObject envelope || envelope["message"] is not JsonObject message)
        {
            return About(root, traces) ? new DeadLetterFate.Drop([]) : new DeadLetterFate.Keep();
        }
        if (message["items"] is not JsonArray items)
        {
            return About(message, traces) ? new DeadLetterFate.Drop(Ids([message])) : new DeadLetterFate.Keep();
        }
        var theirs = items.Select(item => (Item: item, Message: item is JsonObject o && o["message"] is JsonObject m ? m : item))
            .Where(i => About(i.Message, traces)).ToList();
        var ids = Ids(theirs.Select(i => i.Message));
        if (theirs.Count == 0)
        {
            return new DeadLetterFate.Keep();
        }
        if (theirs.Count == items.Count)
        {
            return new DeadLetterFate.Drop(ids);
        }
        foreach (var theirItem in theirs)
        {
            items.Remove(theirItem.Item);
        }
        return new DeadLetterFate.Strip(Encoding.UTF8.GetBytes(envelope.ToJsonString()), ids);
    }

    /// <summary>The messages' own ids (a contact event's id, for ContactEventReceived), where they have one.</summary>
    private static List<Guid> Ids(IEnumerable<JsonNode?> messages) =>
        [.. messages.Select(m => m is JsonObject o && Property(o, "id") is JsonValue v && v.TryGetValue<string>(out var s) && Guid.TryParse(s, out var id)
            ? id : (Guid?)null).OfType<Guid>()];

    private static bool About(JsonNode? message, ErasureTraces traces)
    {
        if (message is JsonObject o && Property(o, "tenantId") is JsonValue tenant && tenant.TryGetValue<string>(out var name)
            && !string.Equals(name, traces.Tenant, StringComparison.Ordinal))
        {
            return false;
        }
        return Strings(message).Any(traces.Values.Contains);
    }

    private static JsonNode? Property(JsonObject o, string name) =>
        o.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => Strings(p.Value)),
        JsonArray a => a.SelectMany(Strings),
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        _ => [],
    };
}

/// <summary>
/// The broker side of an erasure: takes the erased person's messages out of the error queues of the given pipeline queues
/// (a batch of several people loses only their items). Every message of an error queue is got unacknowledged; the
/// person's are acknowledged (gone), a stripped batch is published back with confirmation before its original goes,
/// and the rest return in place when the channel closes. Sweeps of one service wait for each other on a database lock,
/// so no sweep misses a message another one holds; if something else holds messages (an operator's listing), the sweep
/// fails as transient and is tried again.
/// </summary>
public sealed class ErasureSweep(IOptions<RabbitMqOptions> rabbit)
{
    /// <summary>
    /// A service's share of an erasure beyond its own tables: its outbox rows about the erased customers and contacts, and
    /// their dead letters in the error queues of the pipeline queues it consumes. Inside the caller's transaction, so a
    /// failure retries it whole.
    /// </summary>
    public async Task ForgetCopies(Session session, CustomerErased erased, IReadOnlyList<string> queues, CancellationToken ct)
    {
        var ids = erased.FormerCustomerIds.Append(erased.CustomerId).Concat(erased.ContactEventIds).ToList();
        await OutboxErasure.Forget(session, ids, ct);
        if (queues.Count > 0)
        {
            await Sweep(session, queues, ErasureTraces.Of(erased.TenantId, ids), ct);
        }
    }

    /// <summary>Takes the erased person's dead letters out; returns the ids of the messages (or batch items) taken.</summary>
    public async Task<IReadOnlyList<Guid>> Sweep(Session session, IEnumerable<string> queues, ErasureTraces traces, CancellationToken ct)
    {
        await session.Execute("select pg_advisory_xact_lock(hashtextextended('contacts:erasure-sweep', 0))", null, ct);
        await using var connection = await rabbit.Value.CreateConnectionFactory().CreateConnectionAsync("erasure-sweep", ct);
        var removed = new List<Guid>();
        foreach (var errorQueue in queues.SelectMany(q => PipelineTopology.QueuesOf(q, rabbit.Value.Partitions)).Select(q => q + "_error"))
        {
            await SweepOne(connection, errorQueue, traces, removed, ct);
        }
        return removed;
    }

    private static async Task SweepOne(IConnection connection, string errorQueue, ErasureTraces traces, List<Guid> removed, CancellationToken ct)
    {
        await using var source = await connection.CreateChannelAsync(cancellationToken: ct);
        uint count;
        try
        {
            count = (await source.QueueDeclarePassiveAsync(errorQueue, ct)).MessageCount;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return; // nothing has ever failed there
        }
        if (count == 0)
        {
            return;
        }
        await using var target = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true,
            publisherConfirmationTrackingEnabled: true), ct);
        for (var read = 0; read < count; read++)
        {
            if (await source.BasicGetAsync(errorQueue, autoAck: false, ct) is not { } got)
            {
                throw new ErrorQueueBusyException($"{errorQueue}: {count - read} of its {count} messages are held by another reader; the erasure tries again");
            }
            switch (DeadLetterErasure.Judge(got.Body.Span, traces))
            {
                case DeadLetterFate.Drop(var messages):
                    await source.BasicAckAsync(got.DeliveryTag, multiple: false, ct);
                    removed.AddRange(messages);
                    break;
                case DeadLetterFate.Strip(var body, var messages):
                    await target.BasicPublishAsync("", errorQueue, mandatory: true, new BasicProperties(got.BasicProperties), body, ct);
                    await source.BasicAckAsync(got.DeliveryTag, multiple: false, ct);
                    removed.AddRange(messages);
                    break;
            }
        }
        await source.CloseAsync(ct); // what was kept goes back where it was
    }
}

/// <summary>Transient: another reader holds some of an error queue's messages, so a sweep could not judge them all.</summary>
public sealed class ErrorQueueBusyException(string message) : TimeoutException(message);
