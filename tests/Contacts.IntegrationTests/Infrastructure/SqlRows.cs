using Npgsql;

namespace Contacts.IntegrationTests.Infrastructure;

/// <summary>The harness's reads of a database: a statement with its parameters, each row read into a value.</summary>
internal static class SqlRows
{
    public static async Task<List<T>> Read<T>(NpgsqlCommand cmd, Func<NpgsqlDataReader, T> read, IEnumerable<(string Name, object Value)> args)
    {
        foreach (var (name, value) in args)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        var result = new List<T>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result.Add(read(reader));
        }
        return result;
    }
}
