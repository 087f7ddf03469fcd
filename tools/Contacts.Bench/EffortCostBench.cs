extern alias effort;

using Contacts.Dev.Servers;
using Contacts.Messaging.Persistence;
using effort::Contacts.Effort.Journeys;
using effort::Contacts.Effort.Scoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Contacts.Bench;

/// <summary>
/// Effort's cost against a customer's history: tools/bench --effort [--history N] [--samples N] starts a throwaway
/// PostgreSQL and runs the cost run (EffortCostRun) on it, scoring new contacts for a customer with 10 past contacts
/// and for one with N (default 10,000), through the consumer's whole step. The two medians should be within 20%.
/// </summary>
public static class EffortCostBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var dataRoot = Path.Combine(Path.GetTempPath(), "contacts-bench-effort");
        Directory.CreateDirectory(dataRoot);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores");
        await using var postgres = await PostgresServer.StartAsync(dataRoot);
        var name = $"effort_{Guid.NewGuid():N}"[..24];
        await postgres.CreateDatabaseAsync(name);

        var builder = WebApplication.CreateBuilder();
        builder.Configuration["ConnectionStrings:postgres"] = postgres.ConnectionString(name);
        builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        builder.AddDatabase("effort", EffortSchema.Migrations, ContactStream.Types);
        builder.Services.AddOptions<EffortSettings>();
        builder.Services.AddSingleton<EffortStore>();
        await using var app = builder.Build();
        return await EffortCostRun.Run(args, app.Services);
    }
}
