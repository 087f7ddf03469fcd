using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Contacts.Gateway.BadRequests;

/// <summary>
/// Kestrel answers a request whose start line or headers are not HTTP (a header line without "name: value", a name with a
/// space, a Content-Length that is not a number) itself, before any middleware runs, with an empty 400. Every other 400
/// of ours is ProblemDetails, so this connection middleware turns that one response into ProblemDetails too. It only
/// rewrites a write that is exactly Kestrel's empty, connection-closing 400 head; everything else passes through as is.
/// </summary>
public static class BadRequestProblems
{
    public static WebApplicationBuilder AddBadRequestProblems(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => async connection =>
        {
            var transport = connection.Transport;
            var writer = new RewritingWriter(transport.Output);
            connection.Transport = new Duplex(transport.Input, writer);
            try
            {
                await next(connection);
            }
            finally
            {
                connection.Transport = transport;
            }
        })));
        return builder;
    }

    private static readonly byte[] KestrelHead = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n"u8.ToArray();

    public const string Body = """{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"Bad request","status":400,"detail":"The request line or a header line is not valid HTTP: each header must be one 'Name: value' line, with a name of letters, digits and -, and Content-Length a number. Nothing was processed."}""";

    /// <summary>The bytes to send instead of <paramref name="written"/>: the same, unless it is Kestrel's empty 400.</summary>
    public static ReadOnlySpan<byte> Rewrite(ReadOnlySpan<byte> written)
    {
        if (!written.StartsWith(KestrelHead) || !written.EndsWith("\r\n\r\n"u8))
        {
            return written;
        }
        var rest = Encoding.Latin1.GetString(written[KestrelHead.Length..]);
        var body = Encoding.UTF8.GetBytes(Body);
        return Encoding.Latin1.GetBytes(
            $"HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n{rest}")
            .Concat(body).ToArray();
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    /// <summary>Holds what is written until it is flushed, so a whole response head can be looked at before it goes out.</summary>
    private sealed class RewritingWriter(PipeWriter inner) : PipeWriter
    {
        private readonly ArrayBufferWriter<byte> _pending = new();

        public override void Advance(int bytes) => _pending.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _pending.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _pending.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        // Kestrel and the JSON writer ask how much is buffered to decide when to flush.
        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _pending.WrittenCount + (inner.CanGetUnflushedBytes ? inner.UnflushedBytes : 0);

        public override void Complete(Exception? exception = null)
        {
            MovePending();
            inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            MovePending();
            await inner.CompleteAsync(exception);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            MovePending();
            return inner.FlushAsync(cancellationToken);
        }

        private void MovePending()
        {
            if (_pending.WrittenCount > 0)
            {
                inner.Write(Rewrite(_pending.WrittenSpan));
                _pending.ResetWrittenCount();
            }
        }
    }
}
