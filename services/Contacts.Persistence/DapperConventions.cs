using System.Data;
using Dapper;

namespace Contacts.Persistence;

/// <summary>
/// Dapper's conventions for the plain reads and writes (hot paths batch with NpgsqlBatch instead), so that a positional
/// record whose parameters name the columns in order is a row: Npgsql reads a timestamptz as a UTC DateTime, which
/// rows declare as DateTimeOffset, and types an array column as Array, which no record parameter is; a handler for
/// each lets Dapper match the record's constructor. Registered once per process, by AddPostgres (and by tests that
/// query a migrated schema without a host).
/// </summary>
public static class DapperConventions
{
    private static readonly Lazy<bool> Registered = new(() =>
    {
        SqlMapper.AddTypeHandler(new UtcDateTimeOffsetHandler());
        SqlMapper.AddTypeHandler(new ArrayHandler<Guid>());
        SqlMapper.AddTypeHandler(new ArrayHandler<string>());
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

        // timestamptz takes UTC only: an offset given in a request is kept as the instant it names.
        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value) => parameter.Value = value.ToUniversalTime();
    }

    private sealed class ArrayHandler<T> : SqlMapper.TypeHandler<T[]>
    {
        public override T[] Parse(object value) => value as T[] ?? throw new DataException($"a {value.GetType().Name} is not a {typeof(T).Name}[]");

        public override void SetValue(IDbDataParameter parameter, T[]? value) => parameter.Value = value;
    }
}
