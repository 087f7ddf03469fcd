using Contacts.Persistence;

namespace Contacts.Identity.Stitching;

/// <summary>Read models projected inline from the customer streams, in the same transaction as the events.</summary>
public static class IdentitySchema
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
        new("identity_0002_rules_history_split_erasure", """
            create sequence identity_order;
            alter table customers add column merged_at timestamptz, add column merge_order bigint, add column merged_by_contact uuid, add column erased_at timestamptz;

            -- A shared identifier has no one customer: its customers are in identifier_sharers and it never merges them.
            alter table customer_identifiers alter column customer_id drop not null,
                add column shared boolean not null default false,
                add column origin_customer_id uuid,
                add column linked_by_contact uuid,
                add column link_order bigint not null default nextval('identity_order');
            update customer_identifiers set origin_customer_id = customer_id;
            create table identifier_sharers (
                tenant_id text not null,
                type text not null,
                value text not null,
                customer_id uuid not null,
                primary key (tenant_id, type, value, customer_id));
            create index identifier_sharers_customer on identifier_sharers (customer_id);

            alter table timeline add column origin_customer_id uuid, add column attach_order bigint not null default nextval('identity_order');
            update timeline set origin_customer_id = customer_id;
            create index timeline_origin on timeline (origin_customer_id);

            -- Every identifier a contact carried, with what the rules made of it (linked, shared, kept only).
            create table contact_identifiers (
                contact_event_id uuid not null,
                tenant_id text not null,
                type text not null,
                value text not null,
                status text not null,
                rule text,
                primary key (contact_event_id, type, value));

            create table held_contacts (
                contact_event_id uuid primary key,
                tenant_id text not null,
                candidate_ids uuid[] not null,
                rule text not null,
                source text not null,
                contact_id text not null,
                channel text not null,
                kind text not null,
                occurred_at timestamptz not null,
                held_at timestamptz not null default now());
            create index held_contacts_candidates on held_contacts using gin (candidate_ids);

            create table customer_history (
                seq bigint generated always as identity primary key,
                tenant_id text not null,
                customer_id uuid not null,
                kind text not null,
                at timestamptz not null default clock_timestamp(),
                contact_event_id uuid,
                identifier_type text,
                identifier_value text,
                rule text,
                related_customer_ids uuid[] not null default '{}');
            create index customer_history_customer on customer_history (customer_id, seq);

            create table distinct_customers (
                tenant_id text not null,
                customer_id uuid not null,
                other_id uuid not null,
                primary key (customer_id, other_id));

            create table identity_settings (
                tenant_id text primary key,
                settings jsonb not null,
                updated_at timestamptz not null default now());
            """),
        // A held contact keeps its event (without identifiers) so a later event of the same contact can settle and publish
        // it; both tables are read by contact.
        new("identity_0003_held_contacts_settle", """
            alter table held_contacts add column event jsonb;
            create index held_contacts_contact on held_contacts (tenant_id, source, contact_id);
            create index timeline_contact on timeline (tenant_id, source, contact_id);
            """),
        // GET /v1/customers without an identifier pages a tenant's current customers by id.
        new("identity_0004_customer_listing", """
            create index customers_current on customers (tenant_id, id) where merged_into is null and erased_at is null;
            """),
    ];
}
