using Contacts.ServiceDefaults.Persistence;

namespace Contacts.Identity.Stitching;

/// <summary>Read models projected inline from the customer streams, in the same transaction as the events.</summary>
internal static class IdentitySchema
{
    public static readonly Migration[] Migrations =
    [
        new("identity_0001_customers", """
            create table customers (
                id uuid primary key,
                tenant_id text not null,
                created_at timestamptz not null default clock_timestamp(),
                merged_into uuid references customers (id));

            create table customer_identifiers (
                tenant_id text not null,
                type text not null,
                value text not null,
                customer_id uuid not null references customers (id),
                linked_at timestamptz not null default now(),
                primary key (tenant_id, type, value));
            create index customer_identifiers_customer on customer_identifiers (customer_id);

            create table timeline (
                contact_event_id uuid primary key,
                tenant_id text not null,
                customer_id uuid not null references customers (id),
                source text not null,
                source_event_id text not null,
                contact_id text not null,
                channel text not null,
                direction text not null,
                kind text not null,
                occurred_at timestamptz not null,
                topic text);
            create index timeline_customer on timeline (customer_id, occurred_at);
            """),
    ];
}
