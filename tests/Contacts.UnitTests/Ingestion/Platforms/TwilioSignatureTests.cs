using System.Text;
using Contacts.Gateway.Proxy;
using Contacts.Ingestion.Platforms;
using Microsoft.AspNetCore.Http;

namespace Contacts.UnitTests.Ingestion.Platforms;

/// <summary>
/// Twilio's signature as Twilio's own validators check it. The vectors (auth token "12345", the example URL
/// https://mycompany.com/myapp.php?foo=1&amp;bar=2, the example call parameters, and each expected signature) are the
/// published ones from Twilio's documentation and the RequestValidator tests of twilio-csharp
/// (test/Twilio.Test/Security/RequestValidatorTest.cs) and twilio-python (tests/unit/test_request_validator.py).
/// </summary>
public sealed class TwilioSignatureTests
{
    private const string Token = "12345";
    private const string Body = "CallSid=CA1234567890ABCDE&From=%2B14158675309&Digits=1234&To=%2B18005551212&Caller=%2B14158675309";

    private static string? Verify(string url, string signature, string body = Body) =>
        new TwilioAdapter().Verify(new PlatformRequest(new Uri(url), new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            [TwilioAdapter.SignatureHeader] = signature,
        }, Encoding.UTF8.GetBytes(body), "application/x-www-form-urlencoded", DateTimeOffset.UtcNow), Token);

    [Theory]
    // The documented example: the URL as configured, parameters sorted by name.
    [InlineData("https://mycompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")]
    // Host case as configured.
    [InlineData("https://MyCompany.com/myapp.php?foo=1&bar=2", "g9IN/x4Cft2g517EjYvEvM/W7LU=")]
    [InlineData("https://MyCompany.com:1234/myapp.php?foo=1&bar=2", "PCqOZm8cnu/L6+u5i5fuEd+Iac4=")]
    [InlineData("http://MyCompany.com/myapp.php?foo=1&bar=2", "XY7AlKOKL6im4yWyX84gldUrtis=")]
    // Credentials in the URL are part of what is signed, and so are the scheme's and the credentials' case.
    [InlineData("http://username:password@MyCompany.com/myapp.php?foo=1&bar=2", "PJ08CxXr7KLPjEQCTc8LkUSMwSM=")]
    [InlineData("HTTP://username:password@MyCompany.com/myapp.php?foo=1&bar=2", "hy/l8pca+LFms4cvRdv8uiP6NGc=")]
    [InlineData("http://Username:Password@MyCompany.com/myapp.php?foo=1&bar=2", "SkTSKyDJH9kUlhItI0slbgZ1UsI=")]
    // Signed without the port while we were called with one, and the other way round.
    [InlineData("https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")]
    [InlineData("http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")]
    [InlineData("https://mycompany.com/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w=")]
    [InlineData("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4=")]
    [InlineData("https://mycompany.com:1234/myapp.php?foo=1&bar=2", "CYn1h0gLBdNxDGkKJg6hYohgeD8=")]
    public void Twilios_published_vectors_are_accepted(string url, string signature) => Assert.Null(Verify(url, signature));

    [Theory]
    [InlineData("https://MyCompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")]
    [InlineData("https://MyCompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")]
    [InlineData("http://MyCompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")]
    [InlineData("https://mycompany.com/myapp.php?foo=1&bar=2", "NOTRSOYDt4T1cUTdK1PDd93/VVr8B8=")]
    [InlineData("https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")]
    public void Twilios_published_mismatches_are_refused(string url, string signature) => Assert.Contains("does not match", Verify(url, signature));

    [Fact]
    public void A_repeated_parameter_is_signed_once_per_value_in_value_order()
    {
        // twilio-python's duplicate-parameter vector.
        Assert.Null(Verify("https://mycompany.com/myapp.php?foo=1&bar=2", "IK+Dwps556ElfBT0I3Rgjkr1wJU=", "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234"));
    }

    [Theory]
    [InlineData("https://Host.Example.com/v1/webhooks/twilio", new[] { "https://Host.Example.com/v1/webhooks/twilio", "https://Host.Example.com:443/v1/webhooks/twilio" })]
    [InlineData("https://any:ck_1@Host.com:443/v1/webhooks/twilio?x=1", new[] { "https://any:ck_1@Host.com:443/v1/webhooks/twilio?x=1", "https://any:ck_1@Host.com/v1/webhooks/twilio?x=1" })]
    [InlineData("http://[::1]:8080/a", new[] { "http://[::1]:8080/a", "http://[::1]/a" })]
    [InlineData("http://[::1]/a", new[] { "http://[::1]/a", "http://[::1]:80/a" })]
    public void The_urls_tried_are_the_one_called_without_its_port_and_with_the_default_one(string url, string[] expected) =>
        Assert.Equal(expected, TwilioAdapter.SignedUrls(url));

    [Theory]
    [InlineData("MyHost.Example.com", null, null, "/v1/webhooks/twilio", "http://MyHost.Example.com/v1/webhooks/twilio")]
    [InlineData("MyHost.Example.com:8443", null, "any:ck_key", "/v1/webhooks/twilio", "http://any:ck_key@MyHost.Example.com:8443/v1/webhooks/twilio")]
    [InlineData("internal:8080", "https://Contacts.Example.com/", "any:ck_key", "/v1/webhooks/twilio", "https://any:ck_key@Contacts.Example.com/v1/webhooks/twilio")]
    [InlineData("internal:8080", "https://Contacts.Example.com", "any:ck_key", "/v1/events", "https://Contacts.Example.com/v1/events")]
    public void The_gateway_passes_on_the_url_as_the_platform_called_it_credentials_included(
        string host, string? publicBase, string? basic, string path, string expected)
    {
        var http = new DefaultHttpContext();
        http.Request.Scheme = "http";
        http.Request.Host = new HostString(host);
        http.Request.Path = path;
        if (basic is not null)
        {
            http.Request.Headers.Authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(basic));
        }
        Assert.Equal(expected, TenantTransform.OriginalUrl(http.Request, publicBase));
    }
}
