using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Contacts.ServiceDefaults.Hosting;
using Contacts.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Contacts.UnitTests.ServiceDefaults;

/// <summary>Only failures a retry can fix answer 503 with Retry-After; the rest answer 500 once, with a trace id, counted.</summary>
public sealed class FailureClassificationTests
{
    private static PostgresException Postgres(string sqlState) => new("server said no", "ERROR", "ERROR", sqlState);

    [Theory]
    [InlineData("08000")] // connection exception
    [InlineData("08006")] // connection failure
    [InlineData("08P01")] // protocol violation (class 08)
    [InlineData("53000")] // insufficient resources
    [InlineData("53100")] // disk full
    [InlineData("53200")] // out of memory
    [InlineData("53300")] // too many connections
    [InlineData("57P01")] // admin shutdown
    [InlineData("57P02")] // crash shutdown
    [InlineData("57P03")] // cannot connect now
    [InlineData("40001")] // serialization failure
    [InlineData("40P01")] // deadlock detected
    public void Given_a_postgres_error_a_retry_can_fix_when_classified_then_it_is_transient(string sqlState) =>
        Assert.Equal(FailureKind.Transient, FailureClassification.Classify(Postgres(sqlState)));

    [Theory]
    [InlineData("23505")] // unique violation
    [InlineData("23502")] // not null violation
    [InlineData("22001")] // string data right truncation
    [InlineData("22P02")] // invalid text representation
    [InlineData("42P01")] // undefined table
    [InlineData("42703")] // undefined column
    [InlineData("40002")] // integrity constraint violation in class 40: not a race
    [InlineData("57014")] // query canceled: class 57 but not 57P
    [InlineData("XX000")] // internal error
    public void Given_a_postgres_error_a_retry_cannot_fix_when_classified_then_it_is_permanent(string sqlState) =>
        Assert.Equal(FailureKind.Permanent, FailureClassification.Classify(Postgres(sqlState)));

    public static TheoryData<string, Exception, FailureKind> Others() => new()
    {
        { "npgsql without sqlstate (connection refused)", new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused)), FailureKind.Transient },
        { "npgsql pool timeout", new NpgsqlException("The connection pool has been exhausted", new TimeoutException()), FailureKind.Transient },
        { "timeout", new TimeoutException(), FailureKind.Transient },
        { "socket", new SocketException((int)SocketError.ConnectionReset), FailureKind.Transient },
        { "http connection refused", new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)), FailureKind.Transient },
        { "wrapped deadlock", new InvalidOperationException("while storing", Postgres("40P01")), FailureKind.Transient },
        { "wrapped unique violation", new InvalidOperationException("while storing", Postgres("23505")), FailureKind.Permanent },
        { "all transient", new AggregateException(new TimeoutException(), Postgres("53300")), FailureKind.Transient },
        { "one permanent among transient", new AggregateException(new TimeoutException(), Postgres("23505")), FailureKind.Permanent },
        { "http status error", new HttpRequestException("404", null, HttpStatusCode.NotFound), FailureKind.Permanent },
        { "bug", new NullReferenceException(), FailureKind.Permanent },
        { "bad cast", new InvalidCastException(), FailureKind.Permanent },
        { "json", new JsonException("bad"), FailureKind.Permanent },
    };

    [Theory]
    [MemberData(nameof(Others))]
    public void Given_another_failure_when_classified_then_only_connection_failures_and_timeouts_are_transient(string name, Exception exception, FailureKind kind) =>
        Assert.True(kind == FailureClassification.Classify(exception), $"{name}: expected {kind}");

    private static async Task<(TestServer Server, WebApplication App)> Host(Exception toThrow)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<TransientFailureHandler>();
        var app = builder.Build();
        app.UseExceptionHandler();
        app.MapPost("/fails", (Func<IResult>)(() => throw toThrow));
        await app.StartAsync();
        return (app.GetTestServer(), app);
    }

    [Fact]
    public async Task Given_a_unique_violation_when_it_escapes_a_request_then_it_answers_500_once_with_a_trace_id_no_retry_after_and_is_counted()
    {
        var counted = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // By name: the instrument may be published while ContactsTelemetry's static fields are still being set.
            if (instrument.Meter.Name == ContactsTelemetry.Name && instrument.Name == "contacts.http.unexpected_failures")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref counted, value));
        listener.Start();
        var (server, app) = await Host(Postgres("23505"));
        await using var _ = app;

        using var response = await server.CreateClient().PostAsync("/fails", null);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.False(response.Headers.Contains("Retry-After"));
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        Assert.DoesNotContain("safe to repeat", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(Interlocked.Read(ref counted) >= 1, "contacts.http.unexpected_failures was not counted");
    }

    [Fact]
    public async Task Given_a_serialization_failure_when_it_escapes_a_request_then_it_answers_503_with_retry_after()
    {
        var (server, app) = await Host(Postgres("40001"));
        await using var _ = app;

        using var response = await server.CreateClient().PostAsync("/fails", null);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
    }
}
