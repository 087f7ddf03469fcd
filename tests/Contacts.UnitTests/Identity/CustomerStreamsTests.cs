using Contacts.Contracts;
using Contacts.Identity.Stitching;

namespace Contacts.UnitTests;

/// <summary>
/// Given the customers a contact touches / when StitchDecision decides and CustomerStreams turns the outcomes into events /
/// then each customer's stream gets these events: the path Stitcher.Apply takes before appending them.
/// </summary>
public sealed class CustomerStreamsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Guid NewId = Guid.Parse("99999999-0000-0000-0000-000000000000");
    private readonly Dictionary<(string, string), IdentifierState> _index = [];
    private readonly Dictionary<Guid, CustomerState> _customers = [];

    private Guid Customer(int age, params (string Type, string Value)[] identifiers)
    {
        var id = Guid.CreateVersion7();
        _customers[id] = new CustomerState(id, T0.AddMinutes(age), identifiers);
        foreach (var identifier in identifiers)
        {
            _index[identifier] = new IdentifierState.Linked(id);
        }
        return id;
    }

    private static ContactEventReceived Contact(params (string Type, string Value)[] identifiers) =>
        new(Guid.CreateVersion7(), "tenant-t", "pbx", "e-1", "call-1", "voice", "inbound", "started", T0.AddHours(1), T0.AddHours(1),
            [.. identifiers.Select(i => new ContactIdentifier(i.Type, i.Value))], "billing");

    private (ContactEventReceived Contact, Dictionary<Guid, List<object>> Streams) When(params (string Type, string Value)[] identifiers)
    {
        var contact = Contact(identifiers);
        var rules = IdentityRules.Default;
        var outcomes = StitchDecision.Decide(new StitchState(_index, _customers, new HashSet<(Guid, Guid)>()),
            rules.Prepare(contact.Identifiers), rules, NewId);
        return (contact, CustomerStreams.EventsOf(contact, outcomes));
    }

    [Fact]
    public void Given_no_matching_customer_when_a_contact_arrives_then_the_new_customers_stream_records_its_tenant_identifiers_and_contact_in_order()
    {
        var (contact, streams) = When(("email", "a@example.com"), ("phone", "+14155550101"));

        var stream = Assert.Single(streams);
        Assert.Equal(NewId, stream.Key);
        Assert.Equal(new CustomerCreated(NewId, "tenant-t", contact.Id), stream.Value[0]);
        Assert.Equal(
            new object[] { new IdentifierLinked("email", "a@example.com", contact.Id), new IdentifierLinked("phone", "+14155550101", contact.Id) }
                .OrderBy(e => e.ToString()),
            stream.Value.OfType<IdentifierLinked>().OrderBy(e => e.ToString()));
        Assert.Equal(new ContactAttached(contact.Id, "voice", "started", T0.AddHours(1)), stream.Value[^1]);
        Assert.Equal(4, stream.Value.Count);
    }

    [Fact]
    public void Given_a_customer_holding_the_email_when_a_contact_brings_a_new_phone_then_only_that_customers_stream_gets_the_link_and_the_contact()
    {
        var ana = Customer(0, ("email", "a@example.com"));
        var someoneElse = Customer(1, ("email", "b@example.com"));

        var (contact, streams) = When(("email", "a@example.com"), ("phone", "+14155550101"));

        var stream = Assert.Single(streams);
        Assert.Equal(ana, stream.Key);
        Assert.DoesNotContain(streams.Keys, k => k == someoneElse || k == NewId);
        Assert.DoesNotContain(stream.Value, e => e is CustomerCreated);
        Assert.Equal([new IdentifierLinked("phone", "+14155550101", contact.Id), new ContactAttached(contact.Id, "voice", "started", T0.AddHours(1))],
            stream.Value);
    }

    [Fact]
    public void Given_two_customers_when_a_contact_joins_them_then_the_newer_records_its_survivor_and_the_older_whom_it_absorbed()
    {
        var older = Customer(0, ("phone", "+14155550101"));
        var newer = Customer(5, ("email", "a@example.com"));

        var (contact, streams) = When(("phone", "+14155550101"), ("email", "a@example.com"));

        Assert.Equal([new CustomerMergedInto(older, contact.Id)], streams[newer]);
        var absorbed = Assert.IsType<CustomersAbsorbed>(Assert.Single(streams[older], e => e is CustomersAbsorbed));
        Assert.Equal([newer], absorbed.MergedIds);
        Assert.Equal(contact.Id, absorbed.ContactEventId);
        Assert.Contains(new ContactAttached(contact.Id, "voice", "started", T0.AddHours(1)), streams[older]);
        Assert.DoesNotContain(streams[newer], e => e is ContactAttached);
        Assert.Equal(2, streams.Count);
    }

    [Fact]
    public void Given_outcomes_that_concern_no_customer_then_no_stream_gets_an_event()
    {
        var contact = Contact(("email", "noreply@shop.example"));

        var streams = CustomerStreams.EventsOf(contact, [new StitchOutcome.Kept("email", "noreply@shop.example", "blocked")]);

        Assert.Empty(streams);
    }
}
