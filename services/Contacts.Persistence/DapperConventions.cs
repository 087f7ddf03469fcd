using System.Data;
using Dapper;

namespace Contacts.Persistence;

/// <summary>
/// Dapper's conventions for the plain reads and writes (hot paths batch with NpgsqlBatch instead): Npgsql reads a
/// timestamptz as a UTC DateTime, which rows and views declare as DateTimeOffset, so a handler turns one into the
/// other; with it, a positional record whose parameters name the columns in order is a row. Registered once per
/// process, by AddPostgres (and by tests that query a migrated schema without a host).
/// </summary>
public static class DapperConventions
{
    private static readonly Lazy<bool> Registered = new(() =>
    {
        SqlMapper.AddTypeHandler(new UtcDateTimeOffsetHandler());
        return true;
    });

    public static void Use() => _ = Registered.Value;

    private sealed class UtcDateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTimeOffset at => at,
            DateTime at => new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)),
            _ => throw new DataException($"a {value.GetType().Name} is not a point in time"),
        };

        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value) => parameter.Value = value;
    }
}
