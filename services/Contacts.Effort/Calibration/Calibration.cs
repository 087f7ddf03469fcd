namespace Contacts.Effort.Calibration;

public sealed record CesBucket(int CesScore, int Journeys, double MeanPredictedScore);

/// <summary>How well predicted effort ranks against the customers' own CES answers: high effort should meet low CES.</summary>
public sealed record CalibrationReport(int Journeys, IReadOnlyList<CesBucket> ByCesScore, double? SpearmanCorrelation);

public static class CalibrationReports
{
    public static CalibrationReport Compute(IReadOnlyList<(int Predicted, int Ces)> journeys)
    {
        var buckets = journeys.GroupBy(j => j.Ces).OrderBy(g => g.Key)
            .Select(g => new CesBucket(g.Key, g.Count(), Math.Round(g.Average(j => j.Predicted), 2))).ToList();
        return new CalibrationReport(journeys.Count, buckets, Spearman([.. journeys.Select(j => (double)j.Predicted)], [.. journeys.Select(j => (double)j.Ces)]));
    }

    /// <summary>Spearman's rho: Pearson's correlation of the ranks, ties given their average rank; null when undefined.</summary>
    public static double? Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count < 2)
        {
            return null;
        }
        var (rx, ry) = (Ranks(x), Ranks(y));
        var (mx, my) = (rx.Average(), ry.Average());
        double cov = 0, vx = 0, vy = 0;
        for (var i = 0; i < rx.Length; i++)
        {
            cov += (rx[i] - mx) * (ry[i] - my);
            vx += (rx[i] - mx) * (rx[i] - mx);
            vy += (ry[i] - my) * (ry[i] - my);
        }
        return vx == 0 || vy == 0 ? null : Math.Round(cov / Math.Sqrt(vx * vy), 4);
    }

    private static double[] Ranks(IReadOnlyList<double> values)
    {
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && values[order[j + 1]] == values[order[i]])
            {
                j++;
            }
            for (var k = i; k <= j; k++)
            {
                ranks[order[k]] = (i + j) / 2.0 + 1;
            }
            i = j + 1;
        }
        return ranks;
    }
}
