using System.Net;
using System.Net.Sockets;

namespace Contacts.Alerting.Subscriptions;

/// <summary>What an address is, as far as server-side request forgery goes.</summary>
public enum AddressKind
{
    Public,
    /// <summary>
    /// Loopback, private (RFC 1918, CGNAT), benchmarking, link-local, unique-local, unspecified, multicast, and IPv6 forms that
    /// wrap an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo): refused unless the operator allows private addresses.
    /// </summary>
    Private,
    /// <summary>The cloud metadata service (169.254.169.254, fd00:ec2::254): refused always.</summary>
    Metadata,
}

/// <summary>
/// Decides which addresses and URLs a subscription may call: pure functions, so the create-time check and the send-time
/// check (on every resolved address, in the connect callback) apply the same rule.
/// </summary>
public static class UrlSafety
{
    private static readonly IPAddress MetadataV4 = IPAddress.Parse("169.254.169.254");
    private static readonly IPAddress MetadataV6 = IPAddress.Parse("fd00:ec2::254");

    public static AddressKind Classify(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.Equals(MetadataV4) || address.Equals(MetadataV6))
        {
            return AddressKind.Metadata;
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6None))
        {
            return AddressKind.Private;
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            var isPrivate = b[0] == 10 || b[0] == 0 || b[0] == 127
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
                // Benchmarking (RFC 2544): never a CRM on the internet, often a lab network inside.
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19))
                || b[0] >= 224;
            return isPrivate ? AddressKind.Private : AddressKind.Public;
        }
        // Forms that carry an IPv4 address inside an IPv6 one reach whatever that address is: the metadata address inside
        // any of them is the metadata address, and the forms themselves are refused with the private ones.
        if (EmbeddedIPv4(address) is { Count: > 0 } embedded)
        {
            return embedded.Any(a => Classify(a) == AddressKind.Metadata) ? AddressKind.Metadata : AddressKind.Private;
        }
        var isPrivateV6 = address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal;
        return isPrivateV6 ? AddressKind.Private : AddressKind.Public;
    }

    /// <summary>
    /// The IPv4 addresses an IPv6 address wraps: IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16, and Teredo
    /// 2001:0::/32 (its server, and its client stored inverted); none for any other address.
    /// </summary>
    public static IReadOnlyList<IPAddress> EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return [];
        }
        var v6 = address.GetAddressBytes();
        if (v6.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0)
        {
            return [new IPAddress(v6[12..16])]; // ::a.b.c.d (:: and ::1 are answered before this is asked)
        }
        if (v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b)
        {
            return [new IPAddress(v6[12..16])];
        }
        if (v6[0] == 0x20 && v6[1] == 0x02)
        {
            return [new IPAddress(v6[2..6])];
        }
        if (v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x00 && v6[3] == 0x00)
        {
            return [new IPAddress(v6[4..8]), new IPAddress(v6[12..16].Select(b => (byte)~b).ToArray())];
        }
        return [];
    }

    /// <summary>Why this address may not be called, or null when it may.</summary>
    public static string? Refusal(IPAddress address, bool allowPrivate) => Classify(address) switch
    {
        AddressKind.Metadata => $"{address} is the cloud metadata address",
        AddressKind.Private when !allowPrivate => $"{address} is a loopback, private or link-local address",
        _ => null,
    };

    /// <summary>
    /// Checks a subscription URL as written: absolute http(s), no credentials, a host that is not a forbidden literal
    /// address or a local name. Names that resolve to forbidden addresses are caught on resolution (at create and at send).
    /// </summary>
    public static string? CheckUrl(string? url, bool allowPrivate)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return "is required";
        }
        if (url.Length > 2048)
        {
            return "must be at most 2048 characters";
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "must be an absolute URL";
        }
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            return "must use http or https";
        }
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "must not carry credentials";
        }
        if (!string.IsNullOrEmpty(uri.Fragment))
        {
            return "must not have a fragment";
        }
        var host = uri.IdnHost.TrimEnd('.');
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return Refusal(literal, allowPrivate) is { } why ? $"must not point at {why}" : null;
        }
        if (!allowPrivate && (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".internal", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".local", StringComparison.OrdinalIgnoreCase)
            || !host.Contains('.')))
        {
            return "must name a public host (local names are refused)";
        }
        return null;
    }
}
