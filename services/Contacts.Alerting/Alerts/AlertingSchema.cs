using Contacts.ServiceDefaults.Persistence;

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
    ];
}
