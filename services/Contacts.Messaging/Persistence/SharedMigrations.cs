using Contacts.Persistence;

namespace Contacts.Messaging.Persistence;

/// <summary>Tables every service has: the inbox, the outbox and the event store (laid out like Marten's).</summary>
internal static class SharedMigrations
{
    public static readonly Migration[] All =
    [
        new("0001_inbox_outbox", """
            create table inbox (
                consumer text not null,
                message_id uuid not null,
                processed_at timestamptz not null default now(),
                primary key (consumer, message_id));
            create index inbox_processed_at on inbox (processed_at);

            create table outbox (
                seq bigint generated always as identity primary key,
                id uuid not null unique,
                message_type text not null,
                body jsonb not null,
                traceparent text,
                created_at timestamptz not null default now(),
                attempts int not null default 0,
                next_attempt_at timestamptz not null default now(),
                sent_at timestamptz,
                last_error text);
            create index outbox_pending on outbox (next_attempt_at) where sent_at is null;
            create index outbox_sent_at on outbox (sent_at) where sent_at is not null;
            """),
        new("0002_event_store", """
            create table streams (
                id uuid primary key,
                type text not null,
                version bigint not null,
                tenant_id text not null,
                created timestamptz not null default now(),
                timestamp timestamptz not null default now());

            create table events (
                seq_id bigint generated always as identity primary key,
                id uuid not null unique,
                stream_id uuid not null references streams (id),
                version bigint not null,
                type text not null,
                data jsonb not null,
                tenant_id text not null,
                timestamp timestamptz not null default now(),
                correlation_id text,
                causation_id text,
                unique (stream_id, version));

            create table event_progression (
                name text primary key,
                last_seq_id bigint not null,
                last_updated timestamptz not null default now());
            """),
        // A row with a destination is sent to that queue alone; without one it is published to its type's exchange.
        new("0003_outbox_destination", "alter table outbox add column destination text"),
        // The relay reads the oldest due rows (order by seq, limit): an index on next_attempt_at found every unsent row
        // and sorted them (tools/bench --profile: 3,000 rows read for 200, 9 ms a read in ingestion during a burst). In seq
        // order, with next_attempt_at checked in the index, a read stops at its limit; rows backing off are skipped without
        // visiting the table.
        new("0004_outbox_unsent_in_order", """
            create index outbox_unsent on outbox (seq, next_attempt_at) where sent_at is null;
            drop index outbox_pending;
            """),
        // The event store is Marten's now (mt_streams, mt_events, made before the migrations by the schema migrator where a
        // service has event types). Streams stored before move into it, each event keeping its id, version, time, tenant,
        // correlation and causation, its type renamed to Marten's alias (CustomerCreated: customer_created); then the
        // hand-written store's tables go.
        new("0005_event_store_on_marten", """
            do $$
            begin
                if to_regclass('mt_events') is not null then
                    insert into mt_streams (tenant_id, id, type, version, timestamp, created)
                    select tenant_id, id, lower(regexp_replace(type, '([a-z0-9])([A-Z])', '\1_\2', 'g')), version, timestamp, created
                    from streams;
                    insert into mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, correlation_id, causation_id)
                    select nextval('mt_events_sequence'), id, stream_id, version, data,
                        lower(regexp_replace(type, '([a-z0-9])([A-Z])', '\1_\2', 'g')), timestamp, tenant_id, correlation_id, causation_id
                    from events order by seq_id;
                end if;
            end $$;
            drop table event_progression;
            drop table events;
            drop table streams;

            -- Raised after an append at commit when a stream appended to no longer holds the event at the version the
            -- transaction read (it went with an erased customer meanwhile, and Marten's append started it again).
            create function contacts_streams_kept(tenants text[], ids uuid[], versions bigint[]) returns void language plpgsql as $$
            declare
                gone uuid;
            begin
                select r.id into gone from unnest(tenants, ids, versions) as r(tenant, id, version)
                where not exists (select 1 from mt_events e where e.tenant_id = r.tenant and e.stream_id = r.id and e.version = r.version)
                limit 1;
                if gone is not null then
                    raise exception 'stream % is gone', gone using errcode = 'CT409';
                end if;
            end $$;
            """),
        // Appends check each stream's version in the statement that moves it (EventStoreSession.SaveAtCommit), which
        // refuses a stream that went as well: the check after Marten's appends is not called any more.
        new("0006_streams_checked_where_moved", "drop function contacts_streams_kept(text[], uuid[], bigint[])"),
    ];
}
