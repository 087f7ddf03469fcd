using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Contacts.Dev.Servers;

namespace Contacts.Dev.Pipeline;

/// <summary>One webhook POST as a CRM received it, and whether its Standard Webhooks signature checked out.</summary>
public sealed record ReceivedWebhook(string Id, long Timestamp, bool SignatureValid, string Body, DateTimeOffset ReceivedAt, string? Traceparent,
    string Signature = "");

/// <summary>
/// A stand-in CRM: a real HTTP listener on loopback that records the alerts POSTed to it and checks their signatures
/// the way a CRM would, with the one Standard Webhooks implementation (pinned to the spec's published example by a unit test).
/// </summary>
public sealed class CrmWebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    /// <param name="everyInterface">Listen beyond loopback, for senders in containers (the compose smoke).</param>
    public CrmWebhookReceiver(string secret, Action<ReceivedWebhook>? onReceived = null, int? port = null, bool everyInterface = false)
    {
        Secret = secret;
        Port = port ?? FreePort.Next();
        Url = new Uri($"http://127.0.0.1:{Port}/crm/alerts");
        _listener.Prefixes.Add(everyInterface ? $"http://+:{Port}/" : $"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(() => Serve(onReceived));
    }

    public int Port { get; }
    public Uri Url { get; }
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>Each webhook with the status it was answered with, in the order answered.</summary>
    public ConcurrentQueue<(ReceivedWebhook Webhook, int Status)> Answered { get; } = new();

    /// <summary>The secret signatures are checked with: a subscription's, given once it is created.</summary>
    public string Secret { get; set; }

    /// <summary>When set, decides the answer to each webhook (over RespondWith): e.g. fail a while, then recover.</summary>
    public Func<ReceivedWebhook, int>? Responder { get; set; }

    /// <summary>When set, answers this status instead of 200 (to exercise the sender's retries).</summary>
    public int? RespondWith { get; set; }

    public static string NewSecret() => Contacts.ServiceDefaults.Webhooks.StandardWebhooks.NewSecret();

    private async Task Serve(Action<ReceivedWebhook>? onReceived)
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            _ = Task.Run(() => Answer(context, onReceived));
        }
    }

    private async Task Answer(HttpListenerContext context, Action<ReceivedWebhook>? onReceived)
    {
        try
        {
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var id = context.Request.Headers["webhook-id"] ?? "";
            long.TryParse(context.Request.Headers["webhook-timestamp"], out var timestamp);
            var signature = context.Request.Headers["webhook-signature"] ?? "";
            var webhook = new ReceivedWebhook(id, timestamp, Verify(id, timestamp, body, signature),
                body, DateTimeOffset.UtcNow, context.Request.Headers["traceparent"], signature);
            Received.Enqueue(webhook);
            onReceived?.Invoke(webhook);
            await _held.Task;
            var status = Responder?.Invoke(webhook) ?? RespondWith ?? 200;
            context.Response.StatusCode = status;
            context.Response.Close();
            Answered.Enqueue((webhook, status));
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (HttpListenerException)
        {
            // the sender hung up (or died) before the answer
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private TaskCompletionSource _held = Released();

    private static TaskCompletionSource Released()
    {
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        released.SetResult();
        return released;
    }

    /// <summary>Records webhooks as they arrive but answers none until Release: the sender sees them in flight (to kill it mid-delivery).</summary>
    public void Hold() => _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _held.TrySetResult();

    private bool Verify(string id, long timestamp, string body, string header) =>
        Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Verify(Secret, id, timestamp, body, header);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Release();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
