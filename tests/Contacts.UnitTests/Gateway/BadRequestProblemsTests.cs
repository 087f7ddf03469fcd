using System.Text;
using Contacts.Gateway.BadRequests;

namespace Contacts.UnitTests;

public sealed class BadRequestProblemsTests
{
    [Fact]
    public void Kestrels_empty_400_becomes_ProblemDetails_with_its_other_headers_kept()
    {
        var kestrel = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\nDate: Mon, 23 Nov 2026 10:46:14 GMT\r\nServer: Kestrel\r\n\r\n"u8;

        var rewritten = Encoding.UTF8.GetString(BadRequestProblems.Rewrite(kestrel));

        var (head, body) = (rewritten[..rewritten.IndexOf("\r\n\r\n", StringComparison.Ordinal)], rewritten[(rewritten.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", head, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/problem+json", head, StringComparison.Ordinal);
        Assert.Contains($"Content-Length: {Encoding.UTF8.GetByteCount(body)}", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close", head, StringComparison.Ordinal);
        Assert.Contains("Date: Mon, 23 Nov 2026 10:46:14 GMT", head, StringComparison.Ordinal);
        Assert.Equal(400, System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: 12\r\n\r\n{\"status\":4}")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n{\"more\":1}")]
    [InlineData("{\"a body that happens to be\":\"HTTP/1.1 400 Bad Request\"}")]
    public void Anything_else_passes_through_untouched(string written) =>
        Assert.Equal(written, Encoding.UTF8.GetString(BadRequestProblems.Rewrite(Encoding.UTF8.GetBytes(written))));
}
