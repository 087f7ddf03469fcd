using Contacts.Alerting.Alerts;
using Contacts.Contracts;
using Contacts.Messaging;
using MassTransit;

namespace Contacts.Alerting.Webhooks;

/// <summary>Ingestion found a source of a tenant silent, or back: the tenant's subscribers to source.* hear it once (inbox).</summary>
public sealed class SourceHealthConsumer(AlertChanges changes) : IConsumer<SourceHealthChanged>
{
    public async Task Consume(ConsumeContext<SourceHealthChanged> context)
    {
        var changed = context.Message;
        if (string.IsNullOrWhiteSpace(changed.TenantId) || string.IsNullOrWhiteSpace(changed.Source))
        {
            throw new InvalidMessageException($"SourceHealthChanged {changed.Id} lacks a tenant or a source");
        }
        var notified = false;
        await changes.HandleOnce(context, PipelineTopology.AlertingSourceHealth, changed.TenantId, async (session, ct) =>
        {
            notified = await changes.Notify(session, changed.TenantId, changed.Id, changed.Silent ? SourceWebhookTypes.Silent : SourceWebhookTypes.Recovered,
                changed.ChangedAt, new SourceEventData(changed.Source, changed.Silent, changed.LastEventAt, changed.SilentAfterSeconds), null, ct);
            return [];
        });
        if (notified)
        {
            changes.WakeSender();
        }
    }
}

public sealed class SourceHealthConsumerDefinition() : ContactsConsumerDefinition<SourceHealthConsumer>(PipelineTopology.AlertingSourceHealth);
