using Contacts.Contracts;
using Contacts.Identity.Settings;
using Contacts.Identity.Stitching;
using Contacts.IntegrationTests.Infrastructure;
using Contacts.Messaging.Persistence;

namespace Contacts.IntegrationTests;

/// <summary>
/// Stitching under one injected interleaving at a time, on the real PostgreSQL: a concurrent stitch commits at the
/// point named, and the contact must still end on the customer the rules give (the consumer retries on a conflict).
/// </summary>
[Collection(ServersCollection.Name)]
[Trait("Category", "Integration")]
public sealed class StitchingInterleavingTests(ServersFixture servers) : IAsyncLifetime
{
    private static readonly IdentityRules Rules = new(IdentitySettings.Effective(new IdentitySettingsInput(
        Limits: new() { ["phone"] = 3, ["email"] = 3 })));

    private MigratedDatabase _store = null!;

    public async Task InitializeAsync() => _store = await MigratedDatabase.Create(servers, "stitching-interleaving", "identity",
        [.. SharedMigrations.All, .. IdentitySchema.Migrations], CustomerEvents.Types);

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_merge_committed_after_the_index_is_read_sends_the_contact_to_the_survivor()
    {
        // Given: the phone's customer (older) and the two emails' customer (newer).
        var tenant = $"interleave-{Guid.NewGuid():N}";
        await Stitch(Contact(tenant, "a", ("phone", "+14155550100")));
        await Stitch(Contact(tenant, "b", ("email", "one@interleave.example"), ("email", "two@interleave.example")));
        var older = await CustomerOf(tenant, "a");
        var newer = await CustomerOf(tenant, "b");
        Assert.NotEqual(older, newer);

        // When: a contact by the first email has read the index (the email on the newer customer), and right then a
        // contact by the phone and the second email merges the newer customer into the older one and commits.
        var injected = false;
        await Stitch(Contact(tenant, "x", ("email", "one@interleave.example")), async () =>
        {
            if (!injected)
            {
                injected = true;
                await Stitch(Contact(tenant, "y", ("phone", "+14155550100"), ("email", "two@interleave.example")));
            }
        });

        // Then: everything is on the older customer, the contact that raced the merge included.
        Assert.True(injected);
        Assert.Equal(older, await CustomerOf(tenant, "y"));
        Assert.Equal(older, await CustomerOf(tenant, "b"));
        Assert.Equal(older, await CustomerOf(tenant, "x"));
    }

    private static ContactEventReceived Contact(string tenant, string name, params (string Type, string Value)[] identifiers) =>
        new(Guid.CreateVersion7(), tenant, "interleave", $"e-{name}", $"c-{name}", "voice", "inbound", "ended", DateTimeOffset.UtcNow,
            DateTimeOffset.UtcNow, [.. identifiers.Select(i => new ContactIdentifier(i.Type, i.Value))], null);

    private Task Stitch(ContactEventReceived contact, Func<Task>? afterIndexRead = null) =>
        _store.HandleWithRetries("interleaving", contact.Id, s => Stitcher.Attribute(s, contact, Rules, CancellationToken.None, afterIndexRead), attempts: 5);

    private async Task<Guid> CustomerOf(string tenant, string name)
    {
        await using var cmd = _store.DataSource.CreateCommand("select customer_id from timeline where tenant_id = @tenant and contact_id = @contact");
        cmd.Parameters.AddWithValue("tenant", tenant);
        cmd.Parameters.AddWithValue("contact", $"c-{name}");
        return (Guid)(await cmd.ExecuteScalarAsync())!;
    }
}
