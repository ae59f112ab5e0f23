package api_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

func hourlyWhatIf(t *testing.T, id string, copies uint32, target float64) *v1.LoadWhatIf {
	return &v1.LoadWhatIf{
		Deployment: &v1.DeployWorkflowRequest{Definition: hello(t, id), Triggers: []*v1.Trigger{cronTrigger("hourly", "0 * * * *", "UTC")}},
		Copies:     copies, TargetPeakOverMean: target,
	}
}

func TestGetLoadDistributionWhatIf(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		// wf-a is deployed hourly; the what-if replaces it with three copies.
		resp, err := b.client.GetLoadDistribution(t.Context(), &v1.GetLoadDistributionRequest{
			StartTime: timestamppb.New(monitoringNow), Window: durationpb.New(time.Hour), Resolution: durationpb.New(time.Hour),
			WhatIf: hourlyWhatIf(t, "wf-a", 3, 0),
		})
		is.NoErr(err)
		is.Equal(len(resp.GetBuckets()), 1)
		is.Equal(resp.GetBuckets()[0].GetFires(), int64(1))           // the stored load: wf-a
		is.Equal(resp.GetBuckets()[0].GetFiresWithWhatIf(), int64(3)) // wf-a replaced by its three copies
		w := resp.GetWhatIf()
		is.Equal(w.GetPeakFiresPerSecondBefore(), int64(1))
		is.Equal(w.GetWhatIfFires(), int64(3))
		is.Equal(w.GetMeanFiresPerSecondAfter(), 3.0/3600)
		is.Equal(w.GetPeakFiresPerSecondWithoutJitter(), int64(3))
		is.True(w.GetPeakFiresPerSecondAfter() >= 1)
		is.Equal(w.GetPeakOverMeanAfter(), float64(w.GetPeakFiresPerSecondAfter())/w.GetMeanFiresPerSecondAfter())
		// Three fires an hour: no window brings one second within twice the mean.
		is.True(w.GetSuggestedJitterWindow() == nil)

		// Without a what-if there is no comparison.
		resp, err = b.client.GetLoadDistribution(t.Context(), &v1.GetLoadDistributionRequest{StartTime: timestamppb.New(monitoringNow)})
		is.NoErr(err)
		is.True(resp.GetWhatIf() == nil)
		is.Equal(resp.GetBuckets()[0].GetFiresWithWhatIf(), int64(0))
	})
}

// TestGetLoadDistributionWhatIfTenThousandHourly: 10,000 workflows on "0 * * * *" all fire in
// one second without jitter; the suggested window keeps the peak within the target of the mean.
func TestGetLoadDistributionWhatIfTenThousandHourly(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		const target = 5
		resp, err := b.client.GetLoadDistribution(t.Context(), &v1.GetLoadDistributionRequest{
			StartTime: timestamppb.New(monitoringNow), WhatIf: hourlyWhatIf(t, "planned", 10_000, target),
		})
		is.NoErr(err)
		w := resp.GetWhatIf()
		is.Equal(w.GetWhatIfFires(), int64(10_000))
		is.Equal(w.GetPeakFiresPerSecondWithoutJitter(), int64(10_000)) // all in 12:00:00 (wf-a keeps its jitter)
		is.Equal(w.GetMeanFiresPerSecondAfter(), 10_001.0/3600)         // with wf-a's fire
		window := w.GetSuggestedJitterWindow()
		is.True(window != nil)
		is.True(window.AsDuration() > 0 && window.AsDuration() <= time.Hour) // the fires stay in the hour
		is.True(window.AsDuration()%time.Second == 0)
		peak := w.GetPeakFiresPerSecondWithSuggestedWindow()
		is.True(peak > 0)
		is.True(float64(peak) <= target*w.GetMeanFiresPerSecondAfter()) // at most target x mean
		is.True(peak < w.GetPeakFiresPerSecondAfter())                  // the 300 s default is not enough
		t.Logf("10,000 hourly: peak %d at 0 s, %d at 300 s, %d at the suggested %s (mean %.2f)",
			w.GetPeakFiresPerSecondWithoutJitter(), w.GetPeakFiresPerSecondAfter(), peak, window.AsDuration(), w.GetMeanFiresPerSecondAfter())
	})
}

func TestGetLoadDistributionWhatIfInvalid(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		call := func(w *v1.LoadWhatIf) error {
			_, err := b.client.GetLoadDistribution(t.Context(), &v1.GetLoadDistributionRequest{StartTime: timestamppb.New(monitoringNow), WhatIf: w})
			return err
		}
		badCron := hourlyWhatIf(t, "planned", 1, 0)
		badCron.Deployment.Triggers = append(badCron.Deployment.Triggers, cronTrigger("bad", "not a cron", "UTC"), cronTrigger("zone", "@daily", "Mars/Olympus_Mons"))
		noDefinition := hourlyWhatIf(t, "planned", 1, 0)
		noDefinition.Deployment.Definition = nil
		for _, tc := range []struct {
			name string
			w    *v1.LoadWhatIf
			want []string
		}{
			{"server-side rules", badCron, []string{"what_if.deployment.triggers[1].cron.expression|cron.parse", "what_if.deployment.triggers[2].cron.timezone|timezone.iana"}},
			{"no deployment", &v1.LoadWhatIf{}, []string{"what_if.deployment|required"}},
			{"no definition", noDefinition, []string{"what_if.deployment.definition|required"}},
			{"too many copies", hourlyWhatIf(t, "planned", 100_001, 0), []string{"what_if.copies|uint32.lte"}},
			{"target under 1", hourlyWhatIf(t, "planned", 1, 0.5), []string{"what_if.target_peak_over_mean|double.gte"}},
		} {
			err := call(tc.w)
			is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
			got := violations(t, err)
			for _, v := range tc.want {
				is.True(slices.Contains(got, v)) // tc.name
			}
		}

		// 100,000 copies of a minutely cron: more to place than the projection takes.
		minutely := hourlyWhatIf(t, "planned", 100_000, 0)
		minutely.Deployment.Triggers = []*v1.Trigger{cronTrigger("minutely", "* * * * *", "UTC")}
		err := call(minutely)
		is.Equal(connect.CodeOf(err), connect.CodeFailedPrecondition)
		var cerr *connect.Error
		is.True(errors.As(err, &cerr))
		is.True(len(cerr.Message()) > 0)
	})
}
