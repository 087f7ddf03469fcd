using System.Diagnostics;
using System.Net;
using System.Text;

namespace Contacts.Bench;

/// <summary>What the gateway answered while a phase was sent.</summary>
public sealed record SendResult(int Events, int Accepted, int Rejected, TimeSpan Elapsed, int Late)
{
    public double AcceptedPerSecond => Accepted / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Sends a workload through the gateway, either as fast as it is accepted (closed loop: a fixed number of requests in
/// flight) or at a fixed rate whatever the answers (open loop: what latency under a given load needs).
/// </summary>
public sealed class LoadGenerator(HttpClient http, Progress progress)
{
    private int _accepted;
    private int _rejected;
    private int _sent;

    public async Task<SendResult> ClosedLoop(Workload workload, int concurrency, int batch, CancellationToken ct)
    {
        Reset();
        var requests = (workload.Count + batch - 1) / batch;
        var clock = Stopwatch.StartNew();
        using var ticker = progress.Start($"{workload.Phase}: closed loop", () => Line(workload.Count, clock.Elapsed));
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
            async (r, token) =>
            {
                var first = r * batch;
                var count = Math.Min(batch, workload.Count - first);
                await Send(workload, first, count, token);
            });
        return new SendResult(workload.Count, _accepted, _rejected, clock.Elapsed, 0);
    }

    public async Task<SendResult> OpenLoop(Workload workload, double rate, CancellationToken ct)
    {
        Reset();
        // Bounded so that a stalled gateway cannot pile up unbounded tasks; a send that waits for a slot counts as late.
        using var slots = new SemaphoreSlim(1024);
        var late = 0;
        var inFlight = new List<Task>(workload.Count);
        var clock = Stopwatch.StartNew();
        using (progress.Start($"{workload.Phase}: open loop at {rate:0} contacts/s", () => Line(workload.Count, clock.Elapsed)))
        {
            for (var i = 0; i < workload.Count; i++)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed, ct);
                }
                if (!slots.Wait(0))
                {
                    late++;
                    await slots.WaitAsync(ct);
                }
                var index = i;
                inFlight.Add(Task.Run(async () =>
                {
                    try
                    {
                        await Send(workload, index, 1, ct);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, ct));
            }
            await Task.WhenAll(inFlight);
        }
        return new SendResult(workload.Count, _accepted, _rejected, clock.Elapsed, late);
    }

    private async Task Send(Workload workload, int first, int count, CancellationToken ct)
    {
        var (path, body) = count == 1 && first >= 0
            ? ("v1/events", workload.Json(first))
            : ("v1/events/batch", workload.BatchJson(first, count));
        try
        {
            using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), ct);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                Interlocked.Add(ref _accepted, count);
            }
            else if (response.StatusCode == HttpStatusCode.OK && path.EndsWith("batch", StringComparison.Ordinal))
            {
                using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                var accepted = json.RootElement.GetProperty("accepted").GetInt32();
                Interlocked.Add(ref _accepted, accepted);
                Interlocked.Add(ref _rejected, count - accepted);
            }
            else
            {
                Interlocked.Add(ref _rejected, count);
                progress.Note($"gateway answered {(int)response.StatusCode}: {Truncate(await response.Content.ReadAsStringAsync(ct))}");
            }
        }
        catch (HttpRequestException ex)
        {
            Interlocked.Add(ref _rejected, count);
            progress.Note($"request failed: {ex.Message}");
        }
        Interlocked.Add(ref _sent, count);
    }

    private string Line(int total, TimeSpan elapsed) =>
        $"{Progress.Bar((double)Volatile.Read(ref _sent) / Math.Max(1, total))} sent {Volatile.Read(ref _sent)}/{total}, accepted {Volatile.Read(ref _accepted)}, rejected {Volatile.Read(ref _rejected)}, " +
        $"{Volatile.Read(ref _sent) / Math.Max(elapsed.TotalSeconds, 1e-9):0}/s";

    private void Reset() => (_accepted, _rejected, _sent) = (0, 0, 0);

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200] + "...";
}
