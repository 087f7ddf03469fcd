using Contacts.Identity.Stitching;
using Contacts.ServiceDefaults.EventStore;

namespace Contacts.UnitTests;

public sealed class AggregatorTests
{
    [Fact]
    public void Apply_methods_are_found_by_event_type_and_unknown_events_are_ignored()
    {
        var customer = new Customer();
        var survivor = Guid.NewGuid();
        Aggregator<Customer>.Apply(customer, new CustomerCreated(Guid.NewGuid(), "t", Guid.NewGuid()));
        Aggregator<Customer>.Apply(customer, new IdentifierLinked("email", "a@example.com", Guid.NewGuid()));
        Aggregator<Customer>.Apply(customer, "not an event of this aggregate");
        Aggregator<Customer>.Apply(customer, new CustomerMergedInto(survivor, Guid.NewGuid()));

        Assert.Equal("t", customer.TenantId);
        Assert.Contains(("email", "a@example.com"), customer.Identifiers);
        Assert.Equal(survivor, customer.MergedInto);
    }
}
