using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using static Contacts.Identity.Stitching.StitchOutcome;

namespace Contacts.UnitTests;

/// <summary>Identity's decision, given the customers touched / when a contact arrives / then these outcomes, one rule at a time.</summary>
public sealed class StitchDecisionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Guid NewId = Guid.Parse("99999999-0000-0000-0000-000000000000");
    private readonly Dictionary<(string, string), IdentifierState> _index = [];
    private readonly Dictionary<Guid, CustomerState> _customers = [];
    private readonly HashSet<(Guid, Guid)> _distinct = [];
    private readonly HashSet<Guid> _sameContact = [];
    private readonly List<HeldSibling> _heldSiblings = [];

    /// <summary>Given: a customer created at T0 + age holding these identifiers.</summary>
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

    private void SharedBy((string Type, string Value) identifier, params Guid[] customers) =>
        _index[identifier] = new IdentifierState.Shared([.. customers.Order()]);

    private IReadOnlyList<StitchOutcome> When(IdentityRules rules, params (string Type, string Value)[] identifiers) =>
        StitchDecision.Decide(new StitchState(_index, _customers, _distinct, _sameContact, _heldSiblings),
            rules.Prepare(identifiers.Select(i => new ContactIdentifier(i.Type, i.Value))), rules, NewId);

    private IReadOnlyList<StitchOutcome> When(params (string Type, string Value)[] identifiers) => When(IdentityRules.Default, identifiers);

    private static IdentityRules Rules(Dictionary<string, int>? limits = null, List<string>? priority = null, string? region = null) =>
        new(IdentitySettings.Effective(new IdentitySettingsInput(region, limits, priority)));

    private static (string, string) Phone(string v) => ("phone", v);
    private static (string, string) Email(string v) => ("email", v);
    private static (string, string) Crm(string v) => ("crm_id", v);

    [Fact]
    public void No_match_creates_a_customer_holding_the_contacts_identifiers()
    {
        var outcomes = When(Phone("+14155550101"), Email("ana@example.com"));

        Assert.Contains(new Created(NewId, "no identifier matched a customer"), outcomes);
        Assert.Contains(outcomes, o => o is Linked(var c, "phone", "+14155550101", _) && c == NewId);
        Assert.Contains(outcomes, o => o is Linked(var c, "email", "ana@example.com", _) && c == NewId);
        Assert.Contains(outcomes, o => o is Attached(var c, _, _, _) && c == NewId);
    }

    [Fact]
    public void One_match_attaches_and_links_the_new_identifier()
    {
        var ana = Customer(0, Phone("+14155550101"));

        var outcomes = When(Phone("+14155550101"), Email("ana@example.com"));

        Assert.DoesNotContain(outcomes, o => o is Created);
        Assert.Contains(new Linked(ana, "email", "ana@example.com", "new identifier seen with this customer"), outcomes);
        Assert.Contains(new Attached(ana, "phone", "+14155550101", "matched phone"), outcomes);
    }

    [Fact]
    public void Several_matches_within_the_limits_merge_into_the_oldest()
    {
        var older = Customer(0, Phone("+14155550101"));
        var newer = Customer(5, Email("ana@example.com"));

        var outcomes = When(Phone("+14155550101"), Email("ana@example.com"));

        Assert.Contains(new Merged(older, newer, "email", "ana@example.com", "matched email: one person"), outcomes);
        Assert.Contains(outcomes, o => o is Attached(var c, _, _, _) && c == older);
    }

    [Fact]
    public void A_blocked_value_is_kept_on_the_contact_and_never_matched()
    {
        var someone = Customer(0, Email("noreply@shop.example"));

        var outcomes = When(Email("noreply@shop.example"), Phone("+10000000000"), Crm("anonymous"));

        Assert.Contains(outcomes, o => o is Kept("email", "noreply@shop.example", var rule) && rule.Contains("noreply@*"));
        Assert.Contains(outcomes, o => o is Kept("phone", "+10000000000", var rule) && rule.Contains("repeated digit"));
        Assert.Contains(outcomes, o => o is Kept("crm_id", "anonymous", _));
        Assert.Contains(new Created(NewId, "no identifier that may be matched"), outcomes);
        Assert.DoesNotContain(outcomes, o => o is Attached(var c, _, _, _) && c == someone);
        Assert.DoesNotContain(outcomes, o => o is Linked);
    }

    [Fact]
    public void A_family_phone_does_not_merge_two_people_with_their_own_emails_it_becomes_shared()
    {
        var ana = Customer(0, Phone("+14155550101"), Email("ana@example.com"));

        var outcomes = When(Phone("+14155550101"), Email("ben@example.com"));

        Assert.Contains(new Created(NewId, "no identifier matched a customer"), outcomes);
        Assert.Contains(new Linked(NewId, "email", "ben@example.com", "new identifier seen with this customer"), outcomes);
        Assert.Contains(outcomes, o => o is Shared("phone", "+14155550101", var ids, var rule)
            && ids.Order().SequenceEqual(new[] { ana, NewId }.Order()) && rule == "limit: at most 1 email per customer");
        Assert.DoesNotContain(outcomes, o => o is Merged);
    }

    [Fact]
    public void A_support_mailbox_outranks_a_new_phone_so_the_caller_joins_its_holder_unless_the_tenant_blocks_the_mailbox()
    {
        var first = Customer(0, Email("support@acme.example"), Phone("+14155550101"));

        // Email outranks phone: the known mailbox joins its holder, and the new phone (over the limit) stays on the contact.
        var outcomes = When(Email("support@acme.example"), Phone("+14155550102"));
        Assert.Contains(new Attached(first, "email", "support@acme.example", "matched email"), outcomes);
        Assert.Contains(outcomes, o => o is Kept("phone", "+14155550102", var rule) && rule.StartsWith("limit: at most 1 phone"));

        // A tenant whose callers write from a shared mailbox blocks it: it is then never matched, and the caller is their own customer.
        var blocked = When(new IdentityRules(IdentitySettings.Effective(new IdentitySettingsInput(Blocked: new() { ["email"] = ["support@*"] }))),
            Email("support@acme.example"), Phone("+14155550102"));
        Assert.Contains(new Created(NewId, "no identifier matched a customer"), blocked);
        Assert.Contains(new Linked(NewId, "phone", "+14155550102", "new identifier seen with this customer"), blocked);
    }

    [Fact]
    public void A_higher_limit_lets_the_same_evidence_merge()
    {
        var ana = Customer(0, Phone("+14155550101"), Email("ana@example.com"));

        var outcomes = When(Rules(limits: new() { ["email"] = 2 }), Phone("+14155550101"), Email("ana.work@example.com"));

        Assert.Contains(new Linked(ana, "email", "ana.work@example.com", "new identifier seen with this customer"), outcomes);
        Assert.DoesNotContain(outcomes, o => o is Shared);
    }

    [Fact]
    public void Two_crm_ids_are_two_people_whatever_else_they_share()
    {
        var crm1 = Customer(0, Crm("CRM-1"), Email("a@example.com"));

        var outcomes = When(Rules(limits: new() { ["email"] = 5, ["phone"] = 5 }), Crm("CRM-2"), Email("a@example.com"));

        Assert.Contains(outcomes, o => o is Shared("email", "a@example.com", var ids, "limit: at most 1 crmId per customer") && ids.Contains(crm1));
        Assert.Contains(new Created(NewId, "no identifier matched a customer"), outcomes);
    }

    [Fact]
    public void Priority_decides_which_customer_joins_first_and_the_lower_identifier_is_the_one_shared()
    {
        var byCrm = Customer(0, Crm("CRM-1"), Phone("+14155550101"));
        var byPhone = Customer(1, Phone("+14155550199"), Crm("CRM-9"));

        // The contact carries CRM-1 (joins byCrm) and byPhone's number: byPhone has another CRM id, so its phone is shared.
        var outcomes = When(Rules(limits: new() { ["phone"] = 5 }), Crm("CRM-1"), Phone("+14155550199"));

        Assert.Contains(outcomes, o => o is Attached(var c, "crm_id", "CRM-1", _) && c == byCrm);
        Assert.Contains(outcomes, o => o is Shared("phone", "+14155550199", var ids, _) && ids.Contains(byPhone) && ids.Contains(byCrm));
    }

    [Fact]
    public void Given_a_customer_known_by_crm_id_when_they_write_from_a_new_email_then_the_crm_id_joins_them_and_the_email_stays_on_the_contact()
    {
        var ana = Customer(0, Crm("CRM-1"), Email("ana@example.com"));

        var outcomes = When(Crm("CRM-1"), Email("ana.new@example.com"));

        Assert.Contains(new Attached(ana, "crm_id", "CRM-1", "matched crmId"), outcomes);
        Assert.Contains(new Kept("email", "ana.new@example.com", "limit: at most 1 email per customer (its customer holds as many)"), outcomes);
        Assert.DoesNotContain(outcomes, o => o is Created or Shared or Linked);
    }

    [Fact]
    public void Given_a_known_identifier_of_lower_priority_than_the_new_one_when_stitched_then_the_new_one_is_claimed_and_the_known_one_shared()
    {
        // Email outranks phone: the new email is the contact's own, so the known phone is shared (the family phone case).
        var ana = Customer(0, Phone("+14155550101"), Email("ana@example.com"));

        var outcomes = When(Phone("+14155550101"), Email("ben@example.com"));

        Assert.Contains(new Linked(NewId, "email", "ben@example.com", "new identifier seen with this customer"), outcomes);
        Assert.Contains(outcomes, o => o is Shared("phone", "+14155550101", var ids, _) && ids.Contains(ana));
    }

    [Fact]
    public void A_contact_whose_only_identifiers_are_shared_is_held_as_ambiguous_with_the_candidates()
    {
        var ana = Customer(0, Email("ana@example.com"));
        var ben = Customer(1, Email("ben@example.com"));
        SharedBy(Phone("+14155550101"), ana, ben);

        var outcomes = When(Phone("+14155550101"));

        var held = Assert.Single(outcomes.OfType<HeldAmbiguous>());
        Assert.Equal(new[] { ana, ben }.Order(), held.CandidateIds);
        Assert.DoesNotContain(outcomes, o => o is Attached or Created);
    }

    [Fact]
    public void Given_an_event_of_the_contact_held_between_two_customers_when_a_later_event_of_it_names_one_then_both_go_to_that_customer()
    {
        var ana = Customer(0, Email("ana@example.com"));
        var ben = Customer(1, Email("ben@example.com"));
        SharedBy(Phone("+14155550101"), ana, ben);
        var started = new HeldSibling(Guid.NewGuid(), [ana, ben], "voice", "started", T0);
        _heldSiblings.Add(started);

        var outcomes = When(Phone("+14155550101"), Email("ben@example.com"));

        Assert.Contains(outcomes, o => o is Attached(var c, _, _, _) && c == ben);
        Assert.Contains(new HeldResolved(started, ben, "same contact: a later event of it settled the candidates"), outcomes);
    }

    [Fact]
    public void Given_a_held_event_whose_candidates_do_not_include_the_settled_customer_when_stitched_then_it_stays_held()
    {
        var ana = Customer(0, Email("ana@example.com"));
        var ben = Customer(1, Email("ben@example.com"));
        _heldSiblings.Add(new HeldSibling(Guid.NewGuid(), [ana, ben], "voice", "started", T0));

        var outcomes = When(Email("carl@example.com"));

        Assert.Contains(new Created(NewId, "no identifier matched a customer"), outcomes);
        Assert.DoesNotContain(outcomes, o => o is HeldResolved);
    }

    [Fact]
    public void Given_the_contacts_other_event_already_on_one_candidate_when_an_event_with_only_shared_identifiers_arrives_then_it_joins_that_one()
    {
        var ana = Customer(0, Email("ana@example.com"));
        var ben = Customer(1, Email("ben@example.com"));
        SharedBy(Phone("+14155550101"), ana, ben);
        _sameContact.Add(ben);

        var outcomes = When(Phone("+14155550101"));

        Assert.Contains(new Attached(ben, null, null, "same contact: its other events belong to this customer"), outcomes);
        Assert.DoesNotContain(outcomes, o => o is HeldAmbiguous or Shared or Created);
    }

    [Fact]
    public void Given_the_contacts_other_event_on_a_customer_that_is_no_candidate_when_only_shared_identifiers_arrive_then_it_is_held()
    {
        var ana = Customer(0, Email("ana@example.com"));
        var ben = Customer(1, Email("ben@example.com"));
        SharedBy(Phone("+14155550101"), ana, ben);
        _sameContact.Add(Guid.NewGuid());

        Assert.Single(When(Phone("+14155550101")).OfType<HeldAmbiguous>());
    }

    [Fact]
    public void A_shared_identifier_with_one_that_matches_attaches_to_that_customer()
    {
        var ana = Customer(0, Email("ana@example.com"));
        var ben = Customer(1, Email("ben@example.com"));
        SharedBy(Phone("+14155550101"), ana, ben);

        var outcomes = When(Phone("+14155550101"), Email("ben@example.com"));

        Assert.Contains(outcomes, o => o is Attached(var c, _, _, _) && c == ben);
        Assert.DoesNotContain(outcomes, o => o is Shared or HeldAmbiguous);
    }

    [Fact]
    public void Customers_split_apart_are_not_merged_again_by_the_same_evidence()
    {
        var ana = Customer(0, Phone("+14155550101"));
        var ben = Customer(1, Email("ben@example.com"));
        _distinct.Add((ana, ben));

        var outcomes = When(Rules(limits: new() { ["email"] = 5, ["phone"] = 5 }), Phone("+14155550101"), Email("ben@example.com"));

        Assert.DoesNotContain(outcomes, o => o is Merged);
        Assert.Contains(outcomes, o => o is Shared(_, _, var ids, var rule) && ids.Contains(ana) && ids.Contains(ben) && rule.StartsWith("distinct"));
    }

    [Fact]
    public void A_contact_carrying_more_values_than_the_limit_keeps_the_extra_ones_only()
    {
        var outcomes = When(Crm("CRM-1"), Crm("CRM-2"));

        Assert.Contains(new Linked(NewId, "crm_id", "CRM-1", "new identifier seen with this customer"), outcomes);
        Assert.Contains(outcomes, o => o is Kept("crm_id", "CRM-2", var rule) && rule.Contains("at most 1 crmId"));
    }

    [Fact]
    public void A_national_number_is_placed_with_the_tenants_region_and_kept_unmatched_without_one()
    {
        var ana = Customer(0, Phone("+14155550101"));

        var placed = When(Rules(region: "US"), Phone("4155550101"));
        var unplaced = When(Phone("4155550101"));

        Assert.Contains(outcomes(placed), o => o is Attached(var c, _, _, _) && c == ana);
        Assert.Contains(unplaced, o => o is Kept("phone", "4155550101", var rule) && rule.Contains("no defaultRegion"));
        static IReadOnlyList<StitchOutcome> outcomes(IReadOnlyList<StitchOutcome> o) => o;
    }

    [Fact]
    public void Ties_in_age_merge_into_the_lower_id_so_every_instance_agrees()
    {
        var a = Customer(0, Phone("+14155550101"));
        var b = Customer(0, Email("b@example.com"));
        var (low, high) = a.CompareTo(b) < 0 ? (a, b) : (b, a);

        var outcomes = When(Phone("+14155550101"), Email("b@example.com"));

        Assert.Contains(outcomes, o => o is Merged(var s, var m, _, _, _) && s == low && m == high);
    }
}
