package monitoring_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

func TestSmallestWindow(t *testing.T) {
	t.Parallel()
	for _, want := range []int{0, 1, 2, 3, 5, 64, 65, 1000, 4097, 86399, 86400} {
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			is := is.New(t)
			calls := 0
			got, found, err := monitoring.SmallestWindow(86400, func(w int) (bool, error) {
				calls++
				is.True(w >= 0 && w <= 86400)
				return w >= want, nil
			})
			is.NoErr(err)
			is.True(found)
			is.Equal(got, want)
			is.True(calls <= 2*17+2) // about 2 log2(86400), not a scan
		})
	}

	is := is.New(t)
	_, found, err := monitoring.SmallestWindow(86400, func(int) (bool, error) { return false, nil })
	is.NoErr(err)
	is.True(!found) // no window is enough

	boom := errors.New("boom")
	for _, failAt := range []int{0, 4, 3} { // at 0, while doubling, while bisecting
		_, _, err = monitoring.SmallestWindow(86400, func(w int) (bool, error) {
			if w == failAt {
				return false, boom
			}
			return w >= 3, nil
		})
		is.True(errors.Is(err, boom))
	}
}

// hourlyLoad is a brute-force projection of hourly triggers over [start, start+1h), start on
// the hour: fires per second of the workflows at their jitter windows.
func hourlyLoad(windows map[string]int) (peak, sum int64) {
	var counts [3600]int64
	for wf, w := range windows {
		for h := -25; h <= 0; h++ {
			at := h*3600 + cron.JitterSeconds(wf, w)
			if at >= 0 && at < 3600 {
				counts[at]++
			}
		}
	}
	for _, c := range counts {
		peak = max(peak, c)
		sum += c
	}
	return peak, sum
}

func TestLoadWhatIf(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		hourly := deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC", JitterWindowSeconds: 300}
		stored := map[string]int{}
		for i := range 20 {
			wf := fmt.Sprintf("stored-%d", i)
			deploy(t, db, wf, deployments.StatusDeployed, hourly)
			stored[wf] = 300
		}
		// Deployed now with jitter off; the what-if replaces it (and plans two more copies).
		deploy(t, db, "planned", deployments.StatusDeployed, deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC"})
		stored["planned"] = 0
		svc := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return start }})

		whatIf := &monitoring.LoadWhatIf{WorkflowID: "planned", Copies: 3, Target: 400, Triggers: []deployments.Trigger{
			{ID: "hourly", Cron: &deployments.CronSchedule{Expression: "0 * * * *", JitterWindowSeconds: 600}},
			{ID: "hook", Webhook: &deployments.Webhook{Path: "planned/in"}}, // does not fire by itself
		}}
		ld, err := svc.LoadDistribution(ctx, &monitoring.LoadQuery{WhatIf: whatIf})
		is.NoErr(err)
		res := ld.WhatIf
		is.True(res != nil)

		before, _ := hourlyLoad(stored)
		is.Equal(res.PeakBefore, before)
		is.Equal(res.PeakBefore, ld.PeakPerSecond)

		at := func(w int) map[string]int {
			m := map[string]int{}
			for wf := range stored {
				m[wf] = 300
			}
			for _, wf := range []string{"planned", "planned-2", "planned-3"} {
				m[wf] = w
			}
			return m
		}
		peak, sum := hourlyLoad(at(600))
		is.Equal(res.PeakAfter, peak)
		is.Equal(res.Fires, int64(3))
		is.Equal(sum, int64(20+3)) // "planned" counted once, as a copy
		is.Equal(res.MeanAfter, float64(sum)/3600)
		is.Equal(res.PeakOverMeanAfter, float64(peak)/res.MeanAfter)
		peak0, _ := hourlyLoad(at(0))
		is.Equal(res.PeakWithoutJitter, peak0)
		is.True(res.PeakWithoutJitter >= 3) // the three copies together at 10:00:00

		// Sparse load: the mean is tiny, so only a large target can be met. The suggestion keeps
		// to it, and one second less does not (the bisection's
		// last step).
		is.True(res.HasSuggestion)
		w := res.SuggestedWindowSeconds
		ok := func(w int) bool {
			peak, sum := hourlyLoad(at(w))
			return float64(peak)*3600 <= 400*float64(sum)
		}
		is.True(ok(w))
		is.True(w == 0 || !ok(w-1))
		peakW, _ := hourlyLoad(at(w))
		is.Equal(res.PeakWithSuggestedWindow, peakW)

		var withWhatIf, fires int64
		for _, b := range ld.Buckets {
			withWhatIf += b.FiresWithWhatIf
			fires += b.Fires
		}
		is.Equal(withWhatIf, int64(23))
		is.Equal(fires, int64(21)) // the buckets' own series is the stored load, as without a what-if

		// Without the what-if the answer has none, and no what-if series.
		ld, err = svc.LoadDistribution(ctx, &monitoring.LoadQuery{})
		is.NoErr(err)
		is.True(ld.WhatIf == nil)
		is.Equal(ld.Buckets[0].FiresWithWhatIf, int64(0))

		// Too much work to place, a cron that does not parse: failed precondition.
		_, err = svc.LoadDistribution(ctx, &monitoring.LoadQuery{WhatIf: &monitoring.LoadWhatIf{WorkflowID: "x", Copies: 100_000, Triggers: []deployments.Trigger{
			{ID: "minutely", Cron: &deployments.CronSchedule{Expression: "* * * * *"}},
		}}})
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition))
		_, err = svc.LoadDistribution(ctx, &monitoring.LoadQuery{WhatIf: &monitoring.LoadWhatIf{WorkflowID: "x", Triggers: []deployments.Trigger{
			{ID: "bad", Cron: &deployments.CronSchedule{Expression: "not a cron"}},
		}}})
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition))
		_, err = svc.LoadDistribution(ctx, &monitoring.LoadQuery{WhatIf: &monitoring.LoadWhatIf{WorkflowID: "x", Copies: monitoring.MaxWhatIfCopies + 1}})
		var ve *errdefs.ValidationError
		is.True(errors.As(err, &ve))
		// Copies whose ids would be longer than a workflow id may be.
		_, err = svc.LoadDistribution(ctx, &monitoring.LoadQuery{WhatIf: &monitoring.LoadWhatIf{WorkflowID: strings.Repeat("w", 126), Copies: 10}})
		is.True(errors.As(err, &ve))
		is.True(strings.Contains(err.Error(), "what_if.copies")) // the field
		_, err = svc.LoadDistribution(ctx, &monitoring.LoadQuery{WhatIf: &monitoring.LoadWhatIf{WorkflowID: strings.Repeat("w", 126), Copies: 9}})
		is.NoErr(err) // "<id>-9" is 128 characters
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = svc.LoadDistribution(canceled, &monitoring.LoadQuery{WhatIf: whatIf})
		is.True(errors.Is(err, context.Canceled))
	})
}

// TestLoadWhatIfTenThousandHourly is the planning case the what-if is for: 10,000 workflows on
// "0 * * * *". With no jitter they all fire in one second; the suggested window spreads them
// to within the target of the mean.
func TestLoadWhatIfTenThousandHourly(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	svc := monitoring.NewService(storetest.OpenSQLite(t), monitoring.ServiceConfig{Now: func() time.Time { return start }})
	ld, err := svc.LoadDistribution(context.Background(), &monitoring.LoadQuery{WhatIf: tenThousandHourly(5)})
	is.NoErr(err)
	res := ld.WhatIf
	is.Equal(res.PeakWithoutJitter, int64(10_000))
	is.Equal(res.Fires, int64(10_000))
	is.True(res.HasSuggestion)
	is.True(float64(res.PeakWithSuggestedWindow) <= 5*10_000.0/3600) // at most target x mean
	is.True(res.PeakWithSuggestedWindow > 0)

	// The default target is 5: the same answer as above.
	ld, err = svc.LoadDistribution(context.Background(), &monitoring.LoadQuery{WhatIf: tenThousandHourly(0)})
	is.NoErr(err)
	is.Equal(ld.WhatIf.SuggestedWindowSeconds, res.SuggestedWindowSeconds)

	// Poisson spread: 10,000 fires over 3,600 seconds peak far above twice the mean at any
	// window, so a target of 2 has no window to suggest.
	ld, err = svc.LoadDistribution(context.Background(), &monitoring.LoadQuery{WhatIf: tenThousandHourly(2)})
	is.NoErr(err)
	is.True(!ld.WhatIf.HasSuggestion)
}

func tenThousandHourly(target float64) *monitoring.LoadWhatIf {
	return &monitoring.LoadWhatIf{WorkflowID: "planned", Copies: 10_000, Target: target, Triggers: []deployments.Trigger{
		{ID: "hourly", Cron: &deployments.CronSchedule{Expression: "0 * * * *", JitterWindowSeconds: 300}},
	}}
}

// BenchmarkLoadWhatIfTenThousandHourly measures the what-if of 10,000 copies on "0 * * * *"
// over the default 1 h window, the window search included.
func BenchmarkLoadWhatIfTenThousandHourly(b *testing.B) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	svc := monitoring.NewService(storetest.OpenSQLite(b), monitoring.ServiceConfig{Now: func() time.Time { return start }})
	for _, target := range []float64{2, 5} {
		b.Run(fmt.Sprintf("target=%v", target), func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.LoadDistribution(context.Background(), &monitoring.LoadQuery{WhatIf: tenThousandHourly(target)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
