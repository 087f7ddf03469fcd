using System.Diagnostics;
using Contacts.ServiceDefaults.Telemetry;
using OpenTelemetry.Trace;

namespace Contacts.UnitTests.ServiceDefaults;

/// <summary>Which spans are recorded: OTEL_TRACES_SAMPLER when set, otherwise every span.</summary>
public sealed class TraceSamplingTests
{
    private static SamplingDecision Decide(Sampler sampler, ActivityTraceFlags? parent = null, string traceId = "0af7651916cd43dd8448eb211c80319c")
    {
        var trace = ActivityTraceId.CreateFromString(traceId);
        var parentContext = parent is { } flags ? new ActivityContext(trace, ActivitySpanId.CreateRandom(), flags, isRemote: true) : default;
        return sampler.ShouldSample(new SamplingParameters(parentContext, trace, "span", ActivityKind.Consumer)).Decision;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("no_such_sampler")]
    public void Without_a_known_sampler_setting_every_span_is_recorded(string? name)
    {
        var sampler = TelemetrySetup.SamplerFor(name);

        Assert.Equal(SamplingDecision.RecordAndSample, Decide(sampler));
        Assert.Equal(SamplingDecision.RecordAndSample, Decide(sampler, ActivityTraceFlags.None));
    }

    [Theory]
    [InlineData("always_off", SamplingDecision.Drop)]
    [InlineData("always_on", SamplingDecision.RecordAndSample)]
    [InlineData(" ParentBased_Always_Off ", SamplingDecision.Drop)]
    public void A_named_sampler_decides_a_root_span(string name, SamplingDecision root)
    {
        Assert.Equal(root, Decide(TelemetrySetup.SamplerFor(name)));
    }

    [Fact]
    public void A_parent_based_sampler_follows_the_callers_decision()
    {
        var sampler = TelemetrySetup.SamplerFor("parentbased_always_off");

        Assert.Equal(SamplingDecision.RecordAndSample, Decide(sampler, ActivityTraceFlags.Recorded));
        Assert.Equal(SamplingDecision.Drop, Decide(sampler, ActivityTraceFlags.None));
    }

    [Fact]
    public void A_trace_id_ratio_samples_by_the_trace_id_and_reads_its_argument()
    {
        var none = TelemetrySetup.SamplerFor("traceidratio", argument: "0");
        var all = TelemetrySetup.SamplerFor("traceidratio", argument: "1");

        Assert.Equal(SamplingDecision.Drop, Decide(none));
        Assert.Equal(SamplingDecision.RecordAndSample, Decide(all));
    }
}
