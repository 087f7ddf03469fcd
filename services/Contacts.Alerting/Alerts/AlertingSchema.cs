using Contacts.Persistence;

namespace Contacts.Alerting.Alerts;

internal static class AlertingSchema
{
    public static readonly Migration[] Migrations =
    [
        new("alerting_0001_alerts", """
            create table alerts (
                id uuid primary key,
                tenant_id text not null,
                customer_id uuid not null,
                reason text not null,
                status text not null default 'open',
                score int not null,
                drivers jsonb not null,
                contact_event_id uuid not null,
                raised_at timestamptz not null default now(),
                updated_at timestamptz not null default now(),
                closed_at timestamptz);
            -- One open alert per customer and reason: later scores update it instead of raising another.
            create unique index alerts_one_open on alerts (tenant_id, customer_id, reason) where status = 'open';

            create table webhook_deliveries (
                id uuid primary key,
                alert_id uuid not null references alerts (id),
                url text not null,
                body text not null,
                status text not null default 'pending',
                attempts int not null default 0,
                next_attempt_at timestamptz not null default now(),
                last_status_code int,
                last_error text,
                created_at timestamptz not null default now(),
                delivered_at timestamptz);
            create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
            """),
        new("alerting_0002_webhook_trace", """
            -- The trace of the contact that raised the alert, so the CRM call joins the contact's trace.
            alter table webhook_deliveries add column traceparent text;
            """),
        new("alerting_0003_customer_state", """
            -- Each customer's current state as alerting knows it: decisions follow this, not the order messages arrive in.
            create table customer_alert_state (
                tenant_id text not null,
                customer_id uuid not null,
                score_version bigint,
                score int,
                merged_into uuid,
                updated_at timestamptz not null default now(),
                primary key (tenant_id, customer_id));
            alter table alerts add column score_version bigint;
            -- An alert closed because its customer was merged into one that already had an open alert for the reason.
            alter table alerts add column superseded_by uuid references alerts (id);
            create index alerts_customer on alerts (tenant_id, customer_id, status);
            """),
        new("alerting_0004_split_and_erasure", """
            -- A score that arrived while the customer was merged away (used if a split brings it back), the customers it was
            -- split from (a late merge into them is the old one), and erasure: the row stays as a bare id so late scores change nothing.
            alter table customer_alert_state add column held_score jsonb;
            alter table customer_alert_state add column split_from uuid[] not null default '{}';
            alter table customer_alert_state add column erased boolean not null default false;
            create index alerts_contact_event on alerts (tenant_id, contact_event_id);
            """),
        new("alerting_0005_lifecycle", """
            -- Alerts are acknowledged and resolved; acknowledged ones are still active: one active alert per customer and reason.
            alter table alerts add column level int not null default 0;
            alter table alerts add column journey_id uuid;
            alter table alerts add column topic text;
            alter table alerts add column channels text[];
            alter table alerts add column resolution text;
            alter table alerts add column acknowledged_at timestamptz;
            -- The last contact of the journey the latest score came from: quiet for the journey window, the journey is closed.
            alter table alerts add column journey_last_at timestamptz;
            create index alerts_active_journey on alerts (journey_last_at) where status in ('open', 'acknowledged');
            drop index alerts_one_open;
            create unique index alerts_one_active on alerts (tenant_id, customer_id, reason) where status in ('open', 'acknowledged');
            -- Each change of an alert is a webhook of its type; the raised one's webhook-id is the alert id, the others' their event id.
            alter table webhook_deliveries add column event_type text not null default 'alert.raised';
            create table alerting_settings (
                tenant_id text primary key,
                settings jsonb not null,
                updated_at timestamptz not null default now());
            """),
        new("alerting_0006_subscriptions", """
            -- Tenants' webhook subscriptions: each alert change is one delivery per subscription that wants its type. The secret
            -- is kept to sign with; after a rotation the previous one signs too until previous_secret_until.
            create table webhook_subscriptions (
                id uuid primary key,
                tenant_id text not null,
                url text not null,
                events text[] not null,
                secret text not null,
                previous_secret text,
                previous_secret_until timestamptz,
                status text not null default 'enabled',
                disabled_reason text,
                disabled_at timestamptz,
                failing_since timestamptz,
                idempotency_key text,
                fingerprint text,
                created_at timestamptz not null default now());
            create unique index webhook_subscriptions_idempotency on webhook_subscriptions (tenant_id, idempotency_key) where idempotency_key is not null;
            create index webhook_subscriptions_tenant on webhook_subscriptions (tenant_id, id);
            -- The webhook-id is the message's (the same for every subscription and every retry); the row id is the delivery's.
            alter table webhook_deliveries add column message_id uuid;
            update webhook_deliveries set message_id = id;
            alter table webhook_deliveries alter column message_id set not null;
            alter table webhook_deliveries add column subscription_id uuid references webhook_subscriptions (id) on delete cascade;
            alter table webhook_deliveries add column claimed_at timestamptz;
            create index webhook_deliveries_subscription on webhook_deliveries (subscription_id, id) where subscription_id is not null;
            create table webhook_attempts (
                id bigint generated always as identity primary key,
                delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
                attempted_at timestamptz not null,
                status_code int,
                latency_ms int not null,
                error text);
            create index webhook_attempts_delivery on webhook_attempts (delivery_id, id);
            """),
        new("alerting_0007_queue_subscriptions", """
            -- Queue subscriptions: type 'amqp', the queue and broker user made for them (the secret column keeps the user's
            -- password, only to answer an idempotent retry of the create); url is the AMQP address without the password.
            alter table webhook_subscriptions add column type text not null default 'webhook';
            alter table webhook_subscriptions add column queue text;
            alter table webhook_subscriptions add column amqp_user text;
            """),
        new("alerting_0008_merged_into_index", """
            -- A customer's cooldown counts the resolved alerts of the customers merged into it: found through merged_into.
            create index customer_alert_state_merged_into on customer_alert_state (tenant_id, merged_into) where merged_into is not null;
            """),
        new("alerting_0009_customer_events", """
            -- Deliveries of every subscribable event, not only alerts: a customer event has no alert, and an erasure finds the
            -- deliveries about its customer by customer_id.
            alter table webhook_deliveries alter column alert_id drop not null;
            alter table webhook_deliveries add column customer_id uuid;
            create index webhook_deliveries_customer on webhook_deliveries (customer_id) where customer_id is not null;
            """),
        new("alerting_0010_subscription_lifecycle", """
            -- Paused subscriptions keep their deliveries queued (status 'paused'); a run of failed attempts is counted so the
            -- tenant hears once that a subscription is failing (and once that it recovered).
            alter table webhook_subscriptions add column paused_at timestamptz,
                add column failed_in_row int not null default 0,
                add column failing_announced boolean not null default false;
            """),
        new("alerting_0011_event_log", """
            -- Every subscribable event of every tenant, whatever the subscriptions: the pull feed and replay read it. position is
            -- given after commit by one sequencer, so a reader paging by position neither skips a late commit nor repeats.
            create sequence event_log_position;
            create table event_log (
                id bigint generated always as identity primary key,
                position bigint unique,
                tenant_id text not null,
                event_id uuid not null,
                type text not null,
                customer_id uuid,
                occurred_at timestamptz not null,
                created_at timestamptz not null default now(),
                body text not null);
            create unique index event_log_event on event_log (tenant_id, event_id, type);
            create index event_log_unsequenced on event_log (id) where position is null;
            create index event_log_feed on event_log (tenant_id, position) where position is not null;
            create index event_log_customer on event_log (customer_id) where customer_id is not null;
            create table event_log_retention (id int primary key default 1 check (id = 1), deleted_through bigint not null default 0);
            insert into event_log_retention default values;
            -- A replay re-sends a subscription's events from the log; its deliveries carry its id, for progress.
            create table subscription_replays (
                id uuid primary key,
                tenant_id text not null,
                subscription_id uuid not null references webhook_subscriptions (id) on delete cascade,
                since timestamptz not null,
                only_failed boolean not null,
                total int not null,
                created_at timestamptz not null default now());
            alter table webhook_deliveries add column replay_id uuid;
            create index webhook_deliveries_replay on webhook_deliveries (replay_id) where replay_id is not null;
            """),
    ];
}
