using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Contacts.Contracts;
using Contacts.Effort.Journeys;
using Contacts.Effort.Reads;
using Contacts.Gateway.Context;

namespace Contacts.UnitTests;

/// <summary>What was said and promised, given/when/then: a contact's summary and outcome, promises judged, and the brief told from effort's view.</summary>
public sealed class StoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);

    private static ContactEvent Event(string contactId, string channel, double hours, string kind = "message", string direction = "inbound",
        string? summary = null, string? outcome = null, ContactPromise? promise = null) =>
        new(Guid.NewGuid(), "pbx", contactId, channel, direction, kind, T0.AddHours(hours), Summary: summary, Outcome: outcome, Promise: promise);

    private static ContactPromise Callback(double dueHours) => new("callback", T0.AddHours(dueHours));

    private static IReadOnlyList<PromiseState> Judge(double asOfHours, params ContactEvent[] events) =>
        PromiseJudge.Judge(ContactFolder.Fold(events), T0.AddHours(asOfHours));

    [Fact]
    public void Given_a_call_reported_in_three_events_when_folded_then_its_latest_summary_and_outcome_stand_in_any_order()
    {
        ContactEvent[] events =
        [
            Event("call-1", "voice", 0, "started", summary: "Card charged twice"),
            Event("call-1", "voice", 0.1, "transferred"),
            Event("call-1", "voice", 0.3, "ended", summary: "Charged twice; refund asked", outcome: "callback_promised", promise: Callback(2)),
        ];
        foreach (var order in new[] { events, [.. events.Reverse()], [events[1], events[2], events[0]] })
        {
            var contact = Assert.Single(ContactFolder.Fold(order));
            Assert.Equal(("Charged twice; refund asked", "callback_promised"), (contact.Summary, contact.Outcome));
            Assert.Equal(new MadePromise("pbx:call-1", "callback", T0.AddHours(2), T0.AddHours(0.3)), Assert.Single(contact.Promises));
        }
    }

    [Fact]
    public void Given_the_same_promise_reported_twice_when_folded_then_it_is_one_promise_made_at_its_first_report()
    {
        var contact = Assert.Single(ContactFolder.Fold(
        [
            Event("call-1", "voice", 0.5, "ended", promise: Callback(2)),
            Event("call-1", "voice", 0.2, "message", promise: Callback(2)),
        ]));
        Assert.Equal(T0.AddHours(0.2), Assert.Single(contact.Promises).MadeAt);
    }

    [Fact]
    public void Given_a_callback_promised_and_no_outbound_contact_when_judged_before_and_after_it_is_due_then_it_is_open_then_overdue()
    {
        var call = Event("call-1", "voice", 0, "ended", promise: Callback(2));
        var email = Event("mail-1", "email", 1);

        Assert.Equal(PromiseStatus.Open, Assert.Single(Judge(1.5, call, email)).Status);
        var overdue = Assert.Single(Judge(2.5, call, email));
        Assert.Equal((PromiseStatus.Overdue, true, null), (overdue.Status, overdue.IsOpen, overdue.KeptBy));
    }

    [Fact]
    public void Given_a_callback_promised_when_an_outbound_contact_follows_on_any_channel_by_the_due_time_then_it_is_kept_by_it()
    {
        var kept = Assert.Single(Judge(5, Event("call-1", "voice", 0, "ended", promise: Callback(2)),
            Event("sms-9", "sms", 1.5, direction: "outbound")));

        Assert.Equal((PromiseStatus.Kept, false, "pbx:sms-9", T0.AddHours(1.5)), (kept.Status, kept.IsOpen, kept.KeptBy, kept.KeptAt));
    }

    [Fact]
    public void Given_a_callback_promised_when_the_outbound_contact_comes_after_the_due_time_then_it_is_kept_late()
    {
        var late = Assert.Single(Judge(5, Event("call-1", "voice", 0, "ended", promise: Callback(2)), Event("call-2", "voice", 3, direction: "outbound")));
        Assert.Equal((PromiseStatus.KeptLate, false), (late.Status, late.IsOpen));
    }

    [Fact]
    public void Given_a_promise_when_the_only_outbound_contact_came_before_it_or_is_the_contact_that_made_it_then_it_is_not_kept()
    {
        var promise = new ContactPromise("follow_up", T0.AddHours(5));
        var states = Judge(1, Event("out-0", "email", -1, direction: "outbound"), Event("out-1", "voice", 0, "ended", direction: "outbound", promise: promise));
        Assert.Equal(PromiseStatus.Open, Assert.Single(states).Status);
    }

    [Fact]
    public void Given_promises_in_a_view_when_the_brief_is_told_then_contacts_run_in_order_with_only_open_promises_listed_and_types_not_values()
    {
        ContactEvent[] events =
        [
            Event("call-1", "voice", 0, "ended", summary: "Charged twice", outcome: "callback_promised", promise: Callback(2)),
            Event("mail-1", "email", 1, summary: "Sent the invoice", promise: new ContactPromise("follow_up", T0.AddHours(1.6))),
            Event("chat-1", "chat", 1.5, summary: "Where is the refund?"),
            Event("call-2", "voice", 1.7, direction: "outbound"),
            new(Guid.NewGuid(), "pbx", "survey-1", "voice", "inbound", "survey_answered", T0.AddHours(1.8), CesScore: 2),
        ];
        var evaluation = CustomerEffort.Evaluate(events, new EffortSettings(), T0.AddHours(1.9));
        var customerId = Guid.NewGuid();
        var view = EffortViews.Of(customerId, 3, evaluation);
        var identity = JsonNode.Parse($$"""
            {"id":"{{customerId}}","mergedFrom":[],"identifiers":[
              {"type":"email","value":"ana@example.com"},{"type":"handle","value":"pbx:chain-1"},{"type":"phone","value":"+442079460958"}]}
            """)!;

        var brief = CustomerBriefComposer.Build(customerId, customerId, identity,
            new UpstreamPart(HttpStatusCode.OK, JsonSerializer.SerializeToNode(view, JsonSerializerOptions.Web)));

        Assert.Equal(["phone", "email"], brief.DoNotAskAgain);
        Assert.Equal(["voice", "email", "chat"], brief.ChannelsTried);
        Assert.Equal(["Charged twice", "Sent the invoice", "Where is the refund?", null], brief.Journey!.Contacts.Select(c => c.Summary));
        // The callback was kept by the outbound call within its time; the follow-up was due before it: kept late.
        Assert.Equal([PromiseStatus.Kept, PromiseStatus.KeptLate], brief.Journey.Contacts.SelectMany(c => c.Promises).Select(p => p.Status));
        Assert.Empty(brief.OpenPromises);
        Assert.Equal(evaluation.Score, brief.Score);
        Assert.DoesNotContain("ana@example.com", JsonSerializer.Serialize(brief));
    }

    [Fact]
    public void Given_effort_knows_nothing_or_cannot_be_read_when_the_brief_is_told_then_it_answers_from_identity_and_names_what_is_missing()
    {
        var id = Guid.NewGuid();
        var identity = JsonNode.Parse($$"""{"id":"{{id}}","identifiers":[{"type":"account_number","value":"A-1"}]}""")!;

        var unscored = CustomerBriefComposer.Build(id, id, identity, new UpstreamPart(HttpStatusCode.NotFound, null));
        var down = CustomerBriefComposer.Build(id, id, identity, new UpstreamPart(null, null));

        Assert.Equal(["accountNumber"], unscored.DoNotAskAgain);
        Assert.Equal((0, null, 0), (unscored.Score, unscored.Journey, unscored.Unavailable.Count));
        Assert.Equal(["effort"], down.Unavailable);
    }
}
