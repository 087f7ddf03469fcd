using Contacts.ServiceDefaults.Persistence;

namespace Contacts.Effort.Scoring;

internal static class EffortSchema
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
    ];
}
