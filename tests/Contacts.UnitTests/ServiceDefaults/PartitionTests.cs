using Contacts.Contracts;
using Contacts.Messaging;

namespace Contacts.UnitTests.ServiceDefaults;

/// <summary>Routing by customer: which partition a customer's work goes to, and how the relay groups rows into batches.</summary>
public sealed class PartitionTests
{
    private static ContactAttributed Attributed(string tenant, Guid customer) =>
        new(Guid.NewGuid(), tenant, Guid.NewGuid(), customer, "chat", "message", DateTimeOffset.UnixEpoch, false, []);

    [Fact]
    public void A_customers_partition_is_the_same_in_every_process_and_spreads_customers_over_all_partitions()
    {
        // Given a fixed customer, then its partition is a fixed value (FNV-1a of tenant and id), not a per-process hash;
        var customer = Guid.Parse("0190a5c4-7b1e-7c3d-9f00-0123456789ab");
        Assert.Equal(PipelineBatches.PartitionOf("tenant-a", customer, 8), PipelineBatches.PartitionOf("tenant-a", customer, 8));
        Assert.InRange(PipelineBatches.PartitionOf("tenant-a", customer, 8), 0, 7);
        Assert.Equal(0, PipelineBatches.PartitionOf("tenant-a", customer, 1));

        // and 8,000 version-7 ids (time-ordered, as identity mints them) land on every one of 8 partitions, none with
        // fewer than 800 or more than 1,200.
        var counts = new int[8];
        for (var i = 0; i < 8000; i++)
        {
            counts[PipelineBatches.PartitionOf("tenant-a", Guid.CreateVersion7(DateTimeOffset.UnixEpoch.AddMilliseconds(i)), 8)]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public void The_relay_groups_a_routed_kind_by_partition_keeping_commit_order_and_the_size_limit()
    {
        // Given 250 attributed contacts of 5 customers, interleaved in commit order,
        var customers = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToList();
        var rows = Enumerable.Range(0, 250).Select(i => (Row: i, Message: (object)Attributed("t", customers[i % 5]))).ToList();
        var kind = PipelineBatches.For(typeof(ContactAttributed))!;

        // when the relay groups them into batches of at most 30 among 8 partitions,
        var batches = PipelineBatches.Group(kind, rows, maxItems: 30, partitions: 8).ToList();

        // then every row travels once, every batch holds one partition's rows only, each customer's rows in commit order,
        Assert.Equal(Enumerable.Range(0, 250), batches.SelectMany(b => b.Rows).Order());
        Assert.All(batches, b =>
        {
            Assert.InRange(b.Rows.Length, 1, 30);
            Assert.All(b.Rows, r => Assert.Equal(b.Partition,
                PipelineBatches.PartitionOf("t", ((ContactAttributed)rows[r].Message).CustomerId, 8)));
            Assert.Equal(b.Rows.Order(), b.Rows);
        });
        foreach (var customer in customers)
        {
            var itsRows = batches.SelectMany(b => b.Rows).Where(r => ((ContactAttributed)rows[r].Message).CustomerId == customer).ToList();
            Assert.Equal(itsRows.Order(), itsRows);
        }

        // and a kind that is not routed by customer (identity's input has no customer yet) is chunked with no partition.
        var received = PipelineBatches.For(typeof(ContactEventReceived))!;
        var plain = PipelineBatches.Group(received, [.. Enumerable.Range(0, 70).Select(i => (i, (object)"row"))], 30, 8).ToList();
        Assert.Equal([30, 30, 10], plain.Select(b => b.Rows.Length));
        Assert.All(plain, b => Assert.Null(b.Partition));
    }

    [Fact]
    public void A_partitioned_stage_knows_its_queues_and_nothing_else_is_taken_for_one()
    {
        Assert.Equal(["effort-contact-attributed", "effort-contact-attributed-0", "effort-contact-attributed-1"],
            PipelineTopology.QueuesOf(PipelineTopology.EffortContactAttributed, 2));
        Assert.Equal(["effort-customer-split"], PipelineTopology.QueuesOf(PipelineTopology.EffortCustomerSplit, 8));
        Assert.Equal(PipelineTopology.AlertingEffortScored, PipelineTopology.PartitionedStageOf("alerting-effort-scored-7"));
        Assert.True(PipelineTopology.IsPartitionQueue("alerting-effort-scored-7"));
        Assert.False(PipelineTopology.IsPartitionQueue("alerting-effort-scored"));
        Assert.Null(PipelineTopology.PartitionedStageOf("alerting-effort-scored-x"));
        Assert.Null(PipelineTopology.PartitionedStageOf("alerting-effort-scored_error"));
        Assert.Null(PipelineTopology.PartitionedStageOf("effort-customer-split"));
    }
}
