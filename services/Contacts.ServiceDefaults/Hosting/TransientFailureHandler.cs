using System.Diagnostics;
using Contacts.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Contacts.ServiceDefaults.Hosting;

/// <summary>
/// An exception that escaped a request: a failure a retry can fix (FailureClassification) answers 503 with Retry-After,
/// so platforms retry (safely: ingestion de-duplicates) instead of treating a restart as a rejection; anything else answers
/// 500 once, with the trace id to quote, no invitation to repeat it, and is counted (contacts.http.unexpected_failures).
/// </summary>
internal sealed partial class TransientFailureHandler(IProblemDetailsService problems, ILogger<TransientFailureHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var traceId = Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier;
        if (FailureClassification.Classify(exception) == FailureKind.Transient)
        {
            LogUnavailable(logger, exception.GetType().Name, exception.Message);
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            http.Response.Headers.RetryAfter = "1";
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                Exception = exception,
                ProblemDetails =
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "Temporarily unavailable",
                    Detail = "A dependency (the database) is not answering; retry the request, it is safe to repeat.",
                    Extensions = { ["traceId"] = traceId },
                },
            });
        }
        var endpoint = http.Features.Get<IExceptionHandlerFeature>()?.Endpoint?.DisplayName ?? "unmatched";
        ContactsTelemetry.UnexpectedFailures.Add(1, new KeyValuePair<string, object?>("exception.type", exception.GetType().Name),
            new KeyValuePair<string, object?>("endpoint", endpoint));
        // Handled here, the exception is not logged by the middleware: this is its one log line, with the stack.
        LogFailed(logger, exception, endpoint, traceId);
        http.Response.StatusCode = StatusCodes.Status500InternalServerError;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "Internal error",
                Detail = "The request failed on our side in a way repeating it will not fix; quote the trace id when reporting it.",
                Extensions = { ["traceId"] = traceId },
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answering 503: {ExceptionType}: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string exceptionType, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Answering 500 on {Endpoint} (trace {TraceId})")]
    private static partial void LogFailed(ILogger logger, Exception exception, string endpoint, string traceId);
}
