using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using static Contacts.Identity.Stitching.StitchOutcome;

namespace Contacts.UnitTests;

/// <summary>
/// A batch stitched as a set: given what the batch read / when its contacts are decided one after the other on
/// <see cref="StitchSetState"/> / then each sees what the ones before it changed, as it would have read it alone.
/// </summary>
public sealed class StitchSetStateTests
{
    private const string Tenant = "tenant-a";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly StitchSetState _state = new() { Now = T0.AddDays(1) };
    private int _contacts;

    /// <summary>Given: a customer the batch read, created at T0 + age, holding these identifiers.</summary>
    private Guid Customer(int age, params (string Type, string Value)[] identifiers)
    {
        var id = Guid.CreateVersion7();
        _state.Customers[id] = new StitchSetState.Customer(T0.AddMinutes(age));
        foreach (var (type, value) in identifiers)
        {
            _state.Index[(Tenant, type, value)] = new IdentifierState.Linked(id);
            _state.Customers[id].Identifiers.Add((type, value));
        }
        return id;
    }

    private static ContactEventReceived Contact(string contactId, params (string Type, string Value)[] identifiers) =>
        new(Guid.CreateVersion7(), Tenant, "test", Guid.NewGuid().ToString(), contactId, "voice", "inbound", "ended", T0, T0,
            [.. identifiers.Select(i => new ContactIdentifier(i.Type, i.Value))], null);

    /// <summary>When: the contact is decided on the set's state and its outcomes taken in, as AttributeSet does.</summary>
    private (IReadOnlyList<StitchOutcome> Outcomes, Guid? Customer) When(ContactEventReceived contact, IdentityRules? rules = null)
    {
        rules ??= IdentityRules.Default;
        var uses = rules.Prepare(contact.Identifiers);
        var outcomes = StitchDecision.Decide(_state.For(contact, uses), uses, rules, Guid.Parse($"99999999-0000-0000-0000-{++_contacts:D12}"));
        var customer = outcomes.OfType<Attached>().Select(a => (Guid?)a.CustomerId).FirstOrDefault();
        var candidates = outcomes.OfType<HeldAmbiguous>().SelectMany(h => h.CandidateIds).ToList();
        _state.Evolve(contact, outcomes, new Attribution(customer, outcomes.OfType<Created>().Any(), [], candidates));
        return (outcomes, customer);
    }

    private static (string, string) Phone(string v) => ("phone", v);
    private static (string, string) Email(string v) => ("email", v);

    [Fact]
    public void A_customer_created_by_an_earlier_contact_of_the_batch_is_matched_by_a_later_one()
    {
        var (_, first) = When(Contact("c1", Phone("+14155550101"), Email("ana@example.com")));
        var (outcomes, second) = When(Contact("c2", Email("ana@example.com")));

        Assert.Equal(first, second);
        Assert.DoesNotContain(outcomes, o => o is Created);
        Assert.Equal(_state.Now, _state.Customers[first!.Value].CreatedAt);
    }

    [Fact]
    public void After_a_merge_in_the_batch_the_merged_customers_identifiers_lead_to_the_survivor_which_holds_them_all()
    {
        var older = Customer(0, Phone("+14155550101"));
        var younger = Customer(5, Email("ana@example.com"));

        var (merge, survivor) = When(Contact("c1", Phone("+14155550101"), Email("ana@example.com")));
        var (outcomes, later) = When(Contact("c2", Email("ana@example.com")));

        Assert.Contains(new Merged(older, younger, "email", "ana@example.com", "matched email: one person"), merge);
        Assert.Equal(older, survivor);
        Assert.Equal(older, later);
        Assert.DoesNotContain(outcomes, o => o is Merged);
        Assert.Equal([Email("ana@example.com"), Phone("+14155550101")], _state.Customers[older].Identifiers.Order());
        Assert.Empty(_state.Customers[younger].Identifiers);
    }

    [Fact]
    public void A_pair_split_apart_stays_apart_for_the_survivor_of_a_later_merge_in_the_batch()
    {
        var split = Customer(0, Phone("+14155550101"));
        var other = Customer(1, Phone("+14155550102"));
        var merged = Customer(2, Email("ana@example.com"));
        _state.Distinct.Add((merged, split));
        _state.Distinct.Add((split, merged));

        When(Contact("c1", Phone("+14155550102"), Email("ana@example.com"))); // merged folds into other
        var (outcomes, _) = When(Contact("c2", Phone("+14155550101"), Phone("+14155550102")));

        Assert.DoesNotContain(outcomes, o => o is Merged);
        Assert.Contains(outcomes, o => o is Shared { Type: "phone" });
    }

    [Fact]
    public void An_event_held_as_ambiguous_earlier_in_the_batch_is_settled_by_a_later_event_of_the_same_contact()
    {
        var ana = Customer(0, Phone("+14155550101"));
        var ben = Customer(1, Phone("+14155550102"));
        _state.Index[(Tenant, "email", "family@example.com")] = new IdentifierState.Shared([.. new[] { ana, ben }.Order()]);

        var (held, none) = When(Contact("call-1", Email("family@example.com")));
        var (outcomes, settled) = When(Contact("call-1", Phone("+14155550102")));

        Assert.Null(none);
        Assert.Contains(held, o => o is HeldAmbiguous);
        Assert.Equal(ben, settled);
        Assert.Contains(outcomes, o => o is HeldResolved(_, var to, _) && to == ben);
        Assert.Empty(_state.HeldOf(new StitchSetState.ContactKey(Tenant, "test", "call-1")));

        // A third event of the call with only the shared email follows its contact's other events.
        var (_, third) = When(Contact("call-1", Email("family@example.com")));
        Assert.Equal(ben, third);
    }

    [Fact]
    public void An_identifier_shared_over_a_limit_earlier_in_the_batch_is_shared_for_the_contacts_after_it()
    {
        var rules = new IdentityRules(IdentitySettings.Effective(new IdentitySettingsInput(Limits: new() { ["email"] = 1 })));
        var ana = Customer(0, Email("ana@example.com"));
        var ben = Customer(1, Email("ben@example.com"), Phone("+14155550102"));

        var (first, _) = When(Contact("c1", Email("ana@example.com"), Phone("+14155550102")), rules);
        var (second, _) = When(Contact("c2", Phone("+14155550102")), rules);

        Assert.Contains(first, o => o is Shared { Type: "phone" } s && s.CustomerIds.Order().SequenceEqual(new[] { ana, ben }.Order()));
        Assert.IsType<IdentifierState.Shared>(_state.Index[(Tenant, "phone", "+14155550102")]);
        Assert.DoesNotContain(("phone", "+14155550102"), _state.Customers[ben].Identifiers);
        Assert.Contains(second, o => o is HeldAmbiguous);
    }
}
