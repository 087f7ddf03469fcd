using Contacts.Persistence;

namespace Contacts.Effort.Scoring;

public static class EffortSchema
{
    public static readonly Migration[] Migrations =
    [
        new("effort_0001_customer_effort", """
            create table customer_effort (
                customer_id uuid primary key,
                tenant_id text not null,
                score int not null,
                contacts_in_window int not null,
                channels_in_window int not null,
                drivers jsonb not null,
                contact_event_id uuid not null,
                scored_at timestamptz not null default now());
            """),
        // The per-customer snapshot of the open window (events of open and recent journeys) with its version, the contacts
        // as stored for replay, each journey's scores for reads and calibration, tenant settings and replay progress.
        new("effort_0002_snapshots_journeys_settings", """
            alter table customer_effort
                add column version bigint not null default 0,
                add column merged_into uuid,
                add column snapshot jsonb not null default '[]',
                add column predicted int not null default 0,
                add column journey_id uuid,
                alter column contact_event_id drop not null;
            create index customer_effort_tenant on customer_effort (tenant_id, customer_id) where merged_into is null;

            create table contact_events (
                contact_event_id uuid primary key,
                tenant_id text not null,
                customer_id uuid not null,
                occurred_at timestamptz not null,
                data jsonb not null);
            create index contact_events_customer on contact_events (customer_id);

            create table journeys (
                customer_id uuid not null,
                journey_id uuid not null,
                tenant_id text not null,
                topic text,
                status text not null,
                opened_at timestamptz not null,
                last_at timestamptz not null,
                score int not null,
                predicted int not null,
                ces_score int,
                primary key (customer_id, journey_id));
            create index journeys_answered on journeys (tenant_id) where ces_score is not null;

            create table erased_customers (
                customer_id uuid primary key,
                tenant_id text not null,
                erased_at timestamptz not null default now());

            create table effort_settings (
                tenant_id text primary key,
                settings jsonb not null,
                version int not null,
                updated_at timestamptz not null default now());

            create table replays (
                id uuid primary key,
                tenant_id text not null,
                settings_version int not null,
                status text not null,
                total int not null,
                done int not null default 0,
                cursor uuid,
                created_at timestamptz not null default now(),
                finished_at timestamptz);
            create index replays_running on replays (created_at) where status = 'running';
            """),
        // Each score names the customers merged into its customer (down chains), read on every save.
        new("effort_0003_merged_into_index", """
            create index customer_effort_merged_into on customer_effort (merged_into) where merged_into is not null;
            """),
        // Every save forgets the customer's renamed open journeys: found through this, not through all of its journeys
        // (tools/bench --effort: a customer with 10,000 past contacts, about 2,000 closed journeys, cost 1.20x one with 10).
        new("effort_0004_open_journeys_index", """
            create index journeys_open on journeys (customer_id) where status = 'open';
            """),
        // A tenant's moments-of-truth settings, one row per change: the ledger applies each from its time on.
        new("effort_0005_moment_settings", """
            create table moment_settings (
                tenant_id text not null,
                effective_from timestamptz not null,
                settings jsonb not null,
                primary key (tenant_id, effective_from));
            """),
        // The moment watch: customers to look at again (now after a change, or when their next promise falls due), the
        // contacts already announced as misery (once per contact, whoever holds it after merges) and whether each
        // customer's account is below the floor (so a crossing is announced once).
        new("effort_0006_moment_watch", """
            create table moment_watch (
                customer_id uuid primary key,
                tenant_id text not null,
                due_at timestamptz not null);
            create index moment_watch_due on moment_watch (due_at);
            create table moment_announced (
                tenant_id text not null,
                contact_key text not null,
                customer_id uuid not null,
                announced_at timestamptz not null default now(),
                primary key (tenant_id, contact_key));
            create index moment_announced_customer on moment_announced (customer_id);
            create table ledger_state (
                customer_id uuid primary key,
                tenant_id text not null,
                balance int not null,
                low boolean not null,
                updated_at timestamptz not null default now());
            """),
        // Every contact now lives in its customer's stream in the event store (ContactStream): each customer's stored
        // contacts become its stream, oldest first, ending with where it was merged to; a merged customer's contacts had
        // been moved to its survivor, so its stream holds that alone. The table goes.
        new("effort_0007_contacts_in_streams", """
            create temporary table moved on commit drop as
            select e.tenant_id, e.customer_id as stream_id, 'contact_received' as type,
                'Contacts.Effort.Scoring.ContactReceived, Contacts.Effort' as class, jsonb_build_object('contact', e.data) as data,
                e.occurred_at as at, row_number() over (partition by e.customer_id order by e.occurred_at, e.contact_event_id) as version
            from contact_events e;
            insert into moved
            select c.tenant_id, c.customer_id, 'merged_into', 'Contacts.Effort.Scoring.MergedInto, Contacts.Effort',
                jsonb_build_object('survivorId', c.merged_into), c.scored_at, coalesce(m.versions, 0) + 1
            from customer_effort c
            left join (select stream_id, max(version) as versions from moved group by stream_id) m on m.stream_id = c.customer_id
            where c.merged_into is not null;
            insert into mt_streams (tenant_id, id, type, version, timestamp, created)
            select tenant_id, stream_id, 'customer_contacts', max(version), now(), min(at) from moved group by tenant_id, stream_id;
            insert into mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type)
            select nextval('mt_events_sequence'), gen_random_uuid(), stream_id, version, data, type, at, tenant_id, class
            from moved order by at, stream_id, version;
            drop table contact_events;
            """),
    ];
}
