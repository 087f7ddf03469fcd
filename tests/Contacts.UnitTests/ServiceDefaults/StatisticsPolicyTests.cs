using Contacts.Persistence;

namespace Contacts.UnitTests.ServiceDefaults;

public sealed class StatisticsPolicyTests
{
    [Theory]
    // never analysed (reltuples -1): once it has changed by the minimum
    [InlineData(-1, 499, false)]
    [InlineData(-1, 500, true)]
    // analysed while small: still the minimum, not its size
    [InlineData(20, 100, false)]
    [InlineData(20, 500, true)]
    // analysed at 10,000 rows: only once it has changed by as many again (autovacuum covers the 10% steps)
    [InlineData(10_000, 9_999, false)]
    [InlineData(10_000, 10_000, true)]
    // unchanged since its last analyse
    [InlineData(1_000_000, 0, false)]
    public void A_table_is_stale_once_it_changed_by_as_many_rows_as_it_had_and_by_the_minimum(double rowsWhenAnalysed, long changedSince, bool stale)
    {
        // Given a table analysed at rowsWhenAnalysed rows, when changedSince rows changed since, then
        Assert.Equal(stale, StatisticsPolicy.IsStale(rowsWhenAnalysed, changedSince, minimumChanges: 500));
    }
}
