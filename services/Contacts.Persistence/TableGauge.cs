using Dapper;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Contacts.Persistence;

/// <summary>
/// Gauges read from the service's own tables: one query every 10 s (after the migrations) whose single row is the
/// reading, rather than a query at each scrape, so a scrape never waits on the database. While the database is away
/// (restarting), the last reading stays and the next tick tries again.
/// </summary>
/// <typeparam name="TReading">A record whose constructor names the query's columns in order.</typeparam>
public abstract class TableGauge<TReading>(NpgsqlDataSource dataSource, MigrationState migrations, string sql) : BackgroundService
    where TReading : class
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private TReading? _last;

    /// <summary>The latest reading; null before the first.</summary>
    protected TReading? Last => Volatile.Read(ref _last);

    /// <summary>Creates the observable gauges (they read <see cref="Last"/>), once, before the first reading.</summary>
    protected abstract void CreateGauges();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        CreateGauges();
        await migrations.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await using var connection = dataSource.CreateConnection();
                Volatile.Write(ref _last, await connection.QuerySingleAsync<TReading>(new CommandDefinition(sql, cancellationToken: stoppingToken)));
            }
            catch (NpgsqlException)
            {
                // the database is restarting: keep the last reading, try again at the next tick
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
