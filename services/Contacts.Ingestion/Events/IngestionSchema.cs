using Contacts.ServiceDefaults.Persistence;

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
    ];
}
