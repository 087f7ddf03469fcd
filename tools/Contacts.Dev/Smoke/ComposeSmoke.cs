using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Contacts.Dev.Pipeline;

namespace Contacts.Dev.Smoke;

/// <summary>
/// `tools/run smoke --gateway URL --key KEY --crm-port PORT --secret SECRET`: against a running stack (docker compose),
/// starts a stand-in CRM on every interface at PORT, pushes the sample journey through the gateway, and succeeds only
/// when the customer is stitched from all three contacts, the high-effort alert reaches the CRM with a valid signature and
/// a queue subscription is made (its queue and user, through the broker's management API).
/// </summary>
public static class ComposeSmoke
{
    public static async Task<int> Run(string[] args)
    {
        string Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault()
            ?? throw new ArgumentException($"{name} is required");
        var gateway = new Uri(Arg("--gateway"));
        var timeout = TimeSpan.FromSeconds(args.Contains("--timeout") ? int.Parse(Arg("--timeout"), System.Globalization.CultureInfo.InvariantCulture) : 180);
        using var deadline = new CancellationTokenSource(timeout);
        var ct = deadline.Token;
        await using var crm = new CrmWebhookReceiver(Arg("--secret"), port: int.Parse(Arg("--crm-port"), System.Globalization.CultureInfo.InvariantCulture), everyInterface: true);

        using var http = new HttpClient { BaseAddress = gateway };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Arg("--key"));
        try
        {
            // The stack may still be starting: the gateway is ready when it answers an authenticated read.
            while (await Status(http, "v1/customers?email=nobody@example.com", ct) is not (200 or 404))
            {
                await Task.Delay(1000, ct);
            }
            var email = $"smoke.{Guid.NewGuid():N}@example.com";
            var phone = $"+44 20 7946 {Random.Shared.Next(1000, 9999)}";
            var ids = new List<string>();
            foreach (var e in SampleJourney.Events(DateTimeOffset.UtcNow, phone, email, idPrefix: "smoke", brokenPromise: true))
            {
                using var response = await http.PostAsJsonAsync("v1/events", e, ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if ((int)response.StatusCode != 202)
                {
                    Console.Error.WriteLine($"smoke: POST /v1/events answered {(int)response.StatusCode}: {body}");
                    return 1;
                }
                ids.Add(JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!);
            }
            Console.WriteLine($"smoke: 3 events accepted through {gateway}");

            string? customerId = null;
            while (customerId is null)
            {
                using var response = await http.GetAsync($"v1/customers?email={Uri.EscapeDataString(email)}", ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if (response.IsSuccessStatusCode && ids.All(id => body.Contains(id, StringComparison.Ordinal)))
                {
                    customerId = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString();
                }
                else
                {
                    await Task.Delay(500, ct);
                }
            }
            Console.WriteLine($"smoke: customer {customerId} stitched from the 3 contacts");

            while (!crm.Received.Any(w => w.Body.Contains(customerId!, StringComparison.Ordinal)))
            {
                await Task.Delay(500, ct);
            }
            var webhook = crm.Received.First(w => w.Body.Contains(customerId!, StringComparison.Ordinal));
            var alert = JsonDocument.Parse(webhook.Body).RootElement;
            if (!webhook.SignatureValid || alert.GetProperty("type").GetString() != "alert.raised")
            {
                Console.Error.WriteLine($"smoke: the CRM got {alert.GetProperty("type")} with a signature that is {(webhook.SignatureValid ? "valid" : "NOT valid")}");
                return 1;
            }
            Console.WriteLine($"smoke: alert {webhook.Id} (score {alert.GetProperty("data").GetProperty("score")}) reached the CRM, signature valid");

            // A queue subscription: alerting makes its queue and user through the management API, as the administrator
            // its management URL names (the services' own broker user has no management rights).
            using (var subscribed = await http.PostAsJsonAsync("v1/subscriptions", new { type = "amqp", events = new[] { "alert.raised" } }, ct))
            {
                var body = await subscribed.Content.ReadAsStringAsync(ct);
                if ((int)subscribed.StatusCode != 201)
                {
                    Console.Error.WriteLine($"smoke: a queue subscription answered {(int)subscribed.StatusCode}: {body}");
                    return 1;
                }
                var queue = JsonDocument.Parse(body).RootElement.GetProperty("amqp").GetProperty("queue").GetString();
                Console.WriteLine($"smoke: queue subscription made, queue {queue}");
            }
            return 0;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Console.Error.WriteLine($"smoke: not done within {timeout.TotalSeconds:0} s ({crm.Received.Count} webhooks at the CRM)");
            return 1;
        }
    }

    private static async Task<int?> Status(HttpClient http, string path, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(path, ct);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
