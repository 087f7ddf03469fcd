using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Contacts.ServiceDefaults.Hosting;

/// <summary>
/// A database or dependency outage answers 503 with Retry-After, so platforms retry (safely: ingestion de-duplicates)
/// instead of treating a restart as a rejection. Anything else stays a plain 500 ProblemDetails.
/// </summary>
internal sealed partial class TransientFailureHandler(IProblemDetailsService problems, ILogger<TransientFailureHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (NpgsqlException or TimeoutException))
        {
            return false;
        }
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
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answering 503: {ExceptionType}: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string exceptionType, string reason);
}
