using System.Globalization;
using Contacts.ServiceDefaults.OpenApi;
using Microsoft.OpenApi;

namespace Contacts.Ingestion.Events;

/// <summary>
/// The canonical event's rules in the published schema. Every field is nullable in C# so the validator names what is
/// missing; the rules it enforces are written here from its own constants, so the document and the checks agree.
/// </summary>
public static class ContactEventSchema
{
    private const int TextLength = 200;

    public static IServiceCollection DescribeContactEventSchema(this IServiceCollection services)
    {
        services.DescribeSchema<ContactEventV1>(schema =>
        {
            schema.Required = new HashSet<string> { "source", "sourceEventId", "contactId", "channel", "kind", "occurredAt", "identifiers" };
            var source = schema.Property("source");
            source.Pattern = "^[a-z0-9._-]{1,64}$";
            source.Description = "The sending platform, e.g. amazon-connect.";
            var sourceEventId = schema.Property("sourceEventId");
            sourceEventId.MaxLength = TextLength;
            sourceEventId.Description = "The platform's id for this event; unique per tenant and source.";
            foreach (var text in new[] { "contactId", "initialContactId", "previousContactId" })
            {
                schema.Property(text).MaxLength = TextLength;
            }
            schema.Property("channel").OneOf(ContactEventValidator.Channels);
            var direction = schema.Property("direction").OneOf(ContactEventValidator.Directions);
            direction.Default = "inbound";
            schema.Property("kind").OneOf(ContactEventValidator.Kinds);
            schema.Property("occurredAt").Description =
                $"Not more than {ContactEventValidator.FutureTolerance.TotalMinutes:0} minutes in the future, nor before 2000-01-01.";
            schema.Property("topic").MaxLength = 100;
            var summary = schema.Property("summary");
            summary.MaxLength = ContactEventValidator.SummaryLength;
            summary.Description = "What the contact was about, as the platform or agent wrote it. Customer content: shown in the brief, "
                + "never logged or sent to subscribers, erased with the customer.";
            var outcome = schema.Property("outcome").OneOf(ContactEventValidator.Outcomes);
            outcome.Description = "resolved and unresolved set measures.resolved (a contradiction is refused).";
            schema.Property("endedAt").Description = $"Not before startedAt, within {ContactEventValidator.LongestDuration.TotalDays:0} days of it.";
        });
        services.DescribeSchema<IdentifiersV1>(schema =>
        {
            schema.MinProperties = 1;
            schema.Description = "At least one identifier.";
            schema.Property("phone").Description = "International format; normalised to E.164.";
            schema.Property("email").Format = "email";
            foreach (var text in new[] { "crmId", "accountNumber", "handle", "deviceId" })
            {
                schema.Property(text).MaxLength = TextLength;
            }
        });
        services.DescribeSchema<MeasuresV1>(schema =>
        {
            var longest = ContactEventValidator.LongestDuration.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
            foreach (var seconds in new[] { "queueWaitSeconds", "holdSeconds", "handleSeconds" })
            {
                (schema.Property(seconds).Minimum, schema.Property(seconds).Maximum) = ("0", longest);
            }
            (schema.Property("transfers").Minimum, schema.Property("transfers").Maximum) = ("0", "100");
        });
        services.DescribeSchema<PromiseV1>(schema =>
        {
            schema.Required = new HashSet<string> { "kind", "dueAt" };
            schema.Description = "A promise made on this contact; kept by a later outbound contact on any channel.";
            schema.Property("kind").OneOf(ContactEventValidator.PromiseKinds);
            schema.Property("dueAt").Description = $"Not before occurredAt, within {ContactEventValidator.LongestPromise.TotalDays:0} days of it.";
        });
        services.DescribeSchema<SurveyV1>(schema =>
        {
            schema.Description = "Only with kind survey_answered.";
            var ces = schema.Property("cesScore");
            (ces.Minimum, ces.Maximum) = ("1", "7");
            ces.Description = "CES 2.0: 1 very hard ... 7 very easy.";
        });
        return services;
    }
}
