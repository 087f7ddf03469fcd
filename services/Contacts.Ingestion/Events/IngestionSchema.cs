using Contacts.Persistence;

namespace Contacts.Ingestion.Events;

internal static class IngestionSchema
{
    public static readonly Migration[] Migrations =
    [
        new("ingestion_0001_received_events", """
            create table received_events (
                tenant_id text not null,
                source text not null,
                source_event_id text not null,
                event_id uuid not null unique,
                received_at timestamptz not null default now(),
                event jsonb not null,
                primary key (tenant_id, source, source_event_id));
            """),
        new("ingestion_0002_source_health", """
            -- Per tenant and source: accepted events and refused requests per hour, the last of each, and whether it is silent
            -- (quiet for longer than the tenant's gap); the gap per tenant (the deployment's default when absent).
            create table source_hours (
                tenant_id text not null,
                source text not null,
                hour timestamptz not null,
                accepted int not null default 0,
                refused int not null default 0,
                primary key (tenant_id, source, hour));
            create table source_state (
                tenant_id text not null,
                source text not null,
                last_event_at timestamptz,
                last_refused_at timestamptz,
                silent boolean not null default false,
                silent_since timestamptz,
                primary key (tenant_id, source));
            create index source_state_watched on source_state (last_event_at) where not silent;
            create table source_settings (
                tenant_id text primary key,
                silent_after_seconds int not null,
                updated_at timestamptz not null default now());
            """),
    ];
}
