using System.Collections.Concurrent;
using System.Net;
using Contacts.Dev.Servers;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>One span as an OTLP exporter sent it, with the service.name of its resource.</summary>
public sealed record ReceivedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name);

/// <summary>
/// A small OTLP/HTTP (protobuf) receiver on loopback: keeps every raw export (traces, metrics, logs) so a test can search
/// them for what must never be there, and decodes the spans of trace exports so a test can follow a trace across services.
/// The decoder reads only the few fields of the OTLP trace schema it needs, straight from the protobuf wire format.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public OtlpReceiver()
    {
        Port = FreePort.Next();
        Endpoint = new Uri($"http://127.0.0.1:{Port}");
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    public int Port { get; }
    public Uri Endpoint { get; }

    /// <summary>Every export body, by path (/v1/traces, /v1/metrics, /v1/logs).</summary>
    public ConcurrentQueue<(string Path, byte[] Body)> Exports { get; } = new();

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    /// <summary>The variables that point a service's OTLP exporter here, flushing often so a test need not wait long.</summary>
    public IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
    };

    private async Task Serve()
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
            using var buffer = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(buffer);
            var body = buffer.ToArray();
            var path = context.Request.Url?.AbsolutePath ?? "";
            Exports.Enqueue((path, body));
            if (path == "/v1/traces")
            {
                foreach (var span in DecodeSpans(body))
                {
                    Spans.Enqueue(span);
                }
            }
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    /// <summary>ExportTraceServiceRequest: resource_spans(1) { resource(1) { attributes(1) }, scope_spans(2) { spans(2) } }.</summary>
    public static IEnumerable<ReceivedSpan> DecodeSpans(byte[] request)
    {
        foreach (var resourceSpans in Fields(request).Where(f => f.Number == 1).Select(f => f.Bytes))
        {
            var fields = Fields(resourceSpans).ToList();
            var service = fields.Where(f => f.Number == 1).SelectMany(f => Attributes(f.Bytes, 1))
                .FirstOrDefault(a => a.Key == "service.name").Value ?? "";
            foreach (var scopeSpans in fields.Where(f => f.Number == 2).Select(f => f.Bytes))
            {
                foreach (var span in Fields(scopeSpans).Where(f => f.Number == 2).Select(f => Fields(f.Bytes).ToList()))
                {
                    string Hex(int n) => Convert.ToHexStringLower(span.FirstOrDefault(f => f.Number == n).Bytes ?? []);
                    var name = span.FirstOrDefault(f => f.Number == 5).Bytes is { } b ? System.Text.Encoding.UTF8.GetString(b) : "";
                    yield return new ReceivedSpan(service, Hex(1), Hex(2), Hex(4), name);
                }
            }
        }
    }

    /// <summary>KeyValue { key(1) string, value(2) AnyValue { string_value(1) } } within a message's field number n.</summary>
    private static IEnumerable<KeyValuePair<string, string?>> Attributes(byte[] message, int number) =>
        Fields(message).Where(f => f.Number == number).Select(f =>
        {
            var kv = Fields(f.Bytes).ToList();
            var key = System.Text.Encoding.UTF8.GetString(kv.FirstOrDefault(x => x.Number == 1).Bytes ?? []);
            var value = kv.FirstOrDefault(x => x.Number == 2).Bytes is { } any
                ? Fields(any).Where(x => x.Number == 1).Select(x => System.Text.Encoding.UTF8.GetString(x.Bytes)).FirstOrDefault()
                : null;
            return new KeyValuePair<string, string?>(key, value);
        });

    /// <summary>The length-delimited fields of a protobuf message (varint and fixed fields are skipped).</summary>
    private static IEnumerable<(int Number, byte[] Bytes)> Fields(byte[] message)
    {
        var position = 0;
        while (position < message.Length)
        {
            var tag = Varint(message, ref position);
            var (number, wireType) = ((int)(tag >> 3), (int)(tag & 7));
            switch (wireType)
            {
                case 0:
                    Varint(message, ref position);
                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                case 2:
                    var length = (int)Varint(message, ref position);
                    yield return (number, message[position..(position + length)]);
                    position += length;
                    break;
                default:
                    throw new InvalidDataException($"unexpected protobuf wire type {wireType}");
            }
        }
    }

    private static ulong Varint(byte[] data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = data[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // A request cut off by the listener's close: nothing to report, and throwing here would hide the test's own failure.
        }
    }
}
