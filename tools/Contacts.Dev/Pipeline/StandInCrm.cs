using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Contacts.Dev.Pipeline;

/// <summary>Subscribes tools/run's stand-in CRM through the API, as a CRM would, replacing the stand-ins of earlier runs.</summary>
public static partial class StandInCrm
{
    /// <summary>Creates the subscription and gives the receiver its secret; returns the subscription id.</summary>
    public static async Task<Guid> Subscribe(Uri gateway, string apiKey, CrmWebhookReceiver crm, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        // Earlier runs' stand-ins listened on ports now closed: remove them rather than let them fail for a day.
        var stale = new List<Guid>();
        for (string? after = null; ;)
        {
            var page = await http.GetFromJsonAsync<JsonElement>(after is null ? "v1/subscriptions?limit=200" : $"v1/subscriptions?limit=200&after={after}", ct);
            stale.AddRange(page.GetProperty("items").EnumerateArray()
                .Where(s => StandInUrl().IsMatch(s.GetProperty("url").GetString() ?? ""))
                .Select(s => s.GetProperty("id").GetGuid()));
            // The last page has no cursor (nulls are left out of answers).
            if ((after = page.TryGetProperty("next", out var next) ? next.GetString() : null) is null)
            {
                break;
            }
        }
        foreach (var id in stale)
        {
            using var deleted = await http.DeleteAsync($"v1/subscriptions/{id}", ct);
        }
        using var response = await http.PostAsJsonAsync("v1/subscriptions", new { url = crm.Url }, ct);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/subscriptions answered {(int)response.StatusCode}: {body}");
        }
        crm.Secret = body.GetProperty("secret").GetString()!;
        return body.GetProperty("id").GetGuid();
    }

    [GeneratedRegex(@"^http://127\.0\.0\.1:\d+/crm/alerts$")]
    private static partial Regex StandInUrl();
}
