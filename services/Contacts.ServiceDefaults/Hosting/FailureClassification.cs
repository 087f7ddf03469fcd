using System.Net.Sockets;
using Npgsql;

namespace Contacts.ServiceDefaults.Hosting;

/// <summary>Whether repeating a failed request can help: the difference between 503 with Retry-After and 500.</summary>
public enum FailureKind
{
    /// <summary>A dependency is unreachable, overloaded, restarting or lost a race: the same request will likely succeed later.</summary>
    Transient,

    /// <summary>Anything else: the same request would fail the same way, so the caller must not be told to repeat it.</summary>
    Permanent,
}

/// <summary>Classifies an exception that escaped a request; a pure function of the exception and its inner ones.</summary>
public static class FailureClassification
{
    public static FailureKind Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (Transient(e) is { } transient)
            {
                return transient ? FailureKind.Transient : FailureKind.Permanent;
            }
            if (e is AggregateException { InnerExceptions.Count: > 1 } many)
            {
                return many.InnerExceptions.All(i => Classify(i) == FailureKind.Transient) ? FailureKind.Transient : FailureKind.Permanent;
            }
        }
        return FailureKind.Permanent;
    }

    /// <summary>
    /// SQLSTATE classes a retry can fix: 08 connection exception, 53 insufficient resources, 57P operator intervention
    /// (shutdown, restart, cannot connect now), 40001 serialization failure, 40P01 deadlock.
    /// </summary>
    public static bool IsTransientSqlState(string? sqlState) => sqlState is { Length: 5 } s
        && (s.StartsWith("08", StringComparison.Ordinal) || s.StartsWith("53", StringComparison.Ordinal) || s.StartsWith("57P", StringComparison.Ordinal)
            || s is "40001" or "40P01");

    /// <summary>True or false when this exception decides; null to look at the one inside it.</summary>
    private static bool? Transient(Exception e) => e switch
    {
        PostgresException pg => IsTransientSqlState(pg.SqlState),
        // Without a SQLSTATE the server never answered: the connection failed, broke, or the pool timed out waiting for one.
        NpgsqlException { SqlState: null } => true,
        NpgsqlException npgsql => IsTransientSqlState(npgsql.SqlState),
        TimeoutException or SocketException => true,
        HttpRequestException { InnerException: SocketException } => true,
        _ => null,
    };
}
