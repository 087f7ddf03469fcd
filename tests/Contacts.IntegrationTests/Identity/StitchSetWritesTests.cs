using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging.Persistence;

namespace Contacts.IntegrationTests;

/// <summary>
/// What a stitched set writes, on the real PostgreSQL: new customers, identifiers and timeline rows go in one statement
/// each, and the merges' moves go last, each merged customer's rows straight to the survivor it ends under.
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class StitchSetWritesTests(ServersFixture servers) : IAsyncLifetime
{
    private static readonly IdentityRules Rules = new(IdentitySettings.Effective(new IdentitySettingsInput()));
    private readonly string _tenant = $"sets-{Guid.NewGuid():N}";
    private MigratedDatabase _store = null!;

    public async Task InitializeAsync() => _store = await MigratedDatabase.Create(servers, "stitch-set-writes", "identity",
        [.. SharedMigrations.All, .. IdentitySchema.Migrations], CustomerEvents.Types);

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_set_whose_merges_chain_leaves_every_contact_and_identifier_on_the_last_survivor_and_each_identifier_its_origin()
    {
        // Given a customer stitched earlier from a phone.
        var phone = ("phone", "+14155550100");
        var (email, crm) = (("email", "chain@sets.example"), ("crm_id", "CRM-CHAIN"));
        var first = Contact(0, phone);
        var oldest = (await Stitch([first]))[0].CustomerId!.Value;

        // When one set makes two new customers, merges one into the other, then merges the survivor into the older one.
        Attribution[] set = [.. await Stitch([Contact(1, email), Contact(2, crm), Contact(3, email, crm), Contact(4, phone, email)])];

        // Then the set made two customers, both merged away in the end, and every row is on the oldest customer.
        Guid[] made = [set[0].CustomerId!.Value, set[1].CustomerId!.Value];
        Assert.True(set[0].IsNewCustomer && set[1].IsNewCustomer && made[0] != made[1] && !made.Contains(oldest));
        Assert.Single(set[2].MergedIds);
        Assert.Equal(oldest, set[3].CustomerId);
        Assert.Equal(made.Except(set[2].MergedIds).Single(), Assert.Single(set[3].MergedIds));

        var timeline = await _store.Query("select customer_id from timeline where tenant_id = @tenant", r => r.GetGuid(0), ("tenant", _tenant));
        Assert.Equal(5, timeline.Count);
        Assert.All(timeline, customer => Assert.Equal(oldest, customer));

        var identifiers = (await _store.Query("select type, value, customer_id, origin_customer_id from customer_identifiers where tenant_id = @tenant",
            r => (Key: (r.GetString(0), r.GetString(1)), Customer: r.GetGuid(2), Origin: r.GetGuid(3)), ("tenant", _tenant))).ToDictionary(i => i.Key);
        Assert.Equal(3, identifiers.Count);
        Assert.All(identifiers.Values, i => Assert.Equal(oldest, i.Customer));
        // Who first linked each identifier stays recorded, which a split goes by.
        Assert.Equal(oldest, identifiers[phone].Origin);
        Assert.Equal(made[0], identifiers[email].Origin);
        Assert.Equal(made[1], identifiers[crm].Origin);

        var merged = await _store.Query("select id, merged_into from customers where tenant_id = @tenant and merged_into is not null",
            r => (Id: r.GetGuid(0), Into: r.GetGuid(1)), ("tenant", _tenant));
        Assert.Equal(made.Order(), merged.Select(m => m.Id).Order());
        Assert.Contains(merged, m => m.Into == oldest);
    }

    private ContactEventReceived Contact(int n, params (string Type, string Value)[] identifiers) =>
        new(Guid.CreateVersion7(), _tenant, "sets", $"e{n}", $"c{n}", "voice", "inbound", "ended", DateTimeOffset.UtcNow.AddMinutes(n),
            DateTimeOffset.UtcNow, [.. identifiers.Select(i => new ContactIdentifier(i.Type, i.Value))], null);

    /// <summary>The contacts stitched as one set in one transaction, as identity's batch consumer does.</summary>
    private async Task<IReadOnlyList<Attribution>> Stitch(IReadOnlyList<ContactEventReceived> contacts) =>
        await _store.Database.InTransaction(session => Stitcher.AttributeSet(session, contacts, _ => Rules, CancellationToken.None),
            CancellationToken.None);
}
