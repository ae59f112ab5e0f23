package monitoring

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Defaults and bounds of LoadDistribution.
const (
	DefaultLoadWindow     = time.Hour
	DefaultLoadResolution = time.Minute
	MaxLoadWindow         = 24 * time.Hour
)

// LoadQuery asks for LoadDistribution.
type LoadQuery struct {
	// Start of the projection. Default: now.
	Start time.Time
	// Window is the projection's length. Default DefaultLoadWindow; at most MaxLoadWindow
	// (capped); rounded up to whole seconds.
	Window time.Duration
	// Resolution is the bucket width. Default DefaultLoadResolution; at least 1s; at most Window.
	Resolution time.Duration
	// WhatIf also projects a deployment that is not stored, and compares (whatif.go).
	// Default: none.
	WhatIf *LoadWhatIf
}

// LoadDistribution is the answer of LoadDistribution.
type LoadDistribution struct {
	Start      time.Time
	Window     time.Duration
	Resolution time.Duration
	// Buckets in time order; the last may be shorter than Resolution.
	Buckets []LoadBucket
	// PeakPerSecond is the most fires in one second of the window, with jitter; and without.
	PeakPerSecond, PeakPerSecondWithoutJitter int64
	// MeanPerSecond is the fires (with jitter) in the window over its seconds.
	MeanPerSecond float64
	// WhatIf is the comparison, when the query had a what-if.
	WhatIf *LoadWhatIfResult
}

// LoadBucket is one bucket of the projection.
type LoadBucket struct {
	Start time.Time
	// Fires with jitter; FiresWithoutJitter at the cron's nominal times.
	Fires, FiresWithoutJitter int64
	// FiresWithWhatIf are the fires with jitter, the what-if included; 0 without a what-if.
	FiresWithWhatIf int64
}

// scheduleKey groups the triggers that share their nominal times.
type scheduleKey struct {
	expression, timezone string
	repeated             policy.RepeatedHour
	skipped              policy.SkippedHour
	calendars            string // blackout calendar names, joined
}

// LoadDistribution projects the fires of every DEPLOYED cron trigger over [Start, Start+Window).
//
// Triggers with the same schedule (expression, timezone, DST policies) share their nominal
// times, so those are computed once per schedule and each trigger only adds its offset: the
// work is (cron times per schedule) x (distinct offsets per schedule), not (triggers) x (fires).
// More than ServiceConfig.MaxProjectedTimes cron times in total is errdefs.ErrFailedPrecondition.
func (s *Service) LoadDistribution(ctx context.Context, q *LoadQuery) (*LoadDistribution, error) {
	triggers, err := s.store.CronTriggerListDeployed(ctx)
	if err != nil {
		return nil, fmt.Errorf("load distribution: %w", err)
	}
	start := q.Start
	if start.IsZero() {
		start = s.now()
	}
	window := min(cmp.Or(q.Window, DefaultLoadWindow), MaxLoadWindow)
	if r := window % time.Second; r != 0 {
		window += time.Second - r
	}
	res := min(max(cmp.Or(q.Resolution, DefaultLoadResolution), time.Second), window)
	withJitter, without, err := s.perSecond(ctx, triggers, start, window)
	if err != nil {
		return nil, err
	}
	out := buckets(withJitter, without, start, window, res)
	if q.WhatIf == nil {
		return out, nil
	}
	if out.WhatIf, err = s.whatIf(ctx, triggers, withJitter, *q.WhatIf, out); err != nil {
		return nil, fmt.Errorf("load distribution: %w", err)
	}
	return out, nil
}

// perSecond counts the triggers' fires in each second of [start, start+window), with jitter
// and without.
func (s *Service) perSecond(ctx context.Context, triggers []CronTrigger, start time.Time, window time.Duration) (withJitter, without []int64, err error) {
	end := start.Add(window)
	seconds := int(window / time.Second)
	withJitter = make([]int64, seconds)
	without = make([]int64, seconds)
	slot := func(t time.Time) (int, bool) {
		if t.Before(start) || !t.Before(end) {
			return 0, false
		}
		return int(t.Sub(start) / time.Second), true
	}

	// offsets[key][offset seconds] = triggers
	groups := map[scheduleKey]map[int]int64{}
	for _, t := range triggers {
		k := scheduleKey{t.Expression, t.Timezone, t.RepeatedHour, t.SkippedHour, calendarKey(t.BlackoutCalendars)}
		if groups[k] == nil {
			groups[k] = map[int]int64{}
		}
		groups[k][cron.JitterSeconds(t.WorkflowID, t.JitterWindowSeconds)]++
	}

	blackouts, err := s.blackoutSets(ctx, groups)
	if err != nil {
		return nil, nil, err
	}
	budget := s.maxProjectedTimes
	for k, offsets := range groups {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		covered := blackouts[k.calendars] // nil: nothing covered
		zero := int32(0)
		tr, err := cron.NewTrigger(cron.TriggerConfig{
			WorkflowID:          "load-projection",
			Expression:          k.expression,
			TimeZone:            k.timezone,
			JitterWindowSeconds: &zero,
			RepeatedHour:        k.repeated,
			SkippedHour:         k.skipped,
		})
		if err != nil {
			// Deployed triggers were validated; one that no longer parses is left out.
			s.logger.WarnContext(ctx, "load projection: skipping a schedule", slog.String("expression", k.expression), slog.Any("error", err))
			continue
		}
		var total int64
		maxOffset := 0
		for off, c := range offsets {
			maxOffset = max(maxOffset, off)
			total += c
		}
		// Nominal times from start - maxOffset: their jittered times may fall in the window.
		cursor := start.Add(-time.Duration(maxOffset) * time.Second).Add(-time.Nanosecond)
		for {
			f, err := tr.Next(cursor)
			if err != nil || !f.Nominal.Before(end) {
				break // expired (never fires again), or past the window
			}
			cursor = f.Nominal
			if budget--; budget < 0 {
				return nil, nil, fmt.Errorf("load distribution: more than %d cron times to project; ask for a shorter window: %w",
					s.maxProjectedTimes, errdefs.ErrFailedPrecondition)
			}
			if i, ok := slot(f.Nominal); ok && covered.Covering(f.Nominal) == "" {
				without[i] += total
			}
			for off, c := range offsets {
				at := f.Nominal.Add(time.Duration(off) * time.Second)
				if i, ok := slot(at); ok && covered.Covering(at) == "" {
					withJitter[i] += c
				}
			}
		}
	}

	return withJitter, without, nil
}

// buckets sums the per-second counts into buckets of res.
func buckets(withJitter, without []int64, start time.Time, window, res time.Duration) *LoadDistribution {
	seconds := len(withJitter)
	out := &LoadDistribution{Start: start, Window: window, Resolution: res}
	nb := int((window + res - 1) / res)
	out.Buckets = make([]LoadBucket, nb)
	for i := range out.Buckets {
		out.Buckets[i].Start = start.Add(time.Duration(i) * res)
	}
	var sum int64
	for i := range seconds {
		b := int(time.Duration(i) * time.Second / res)
		out.Buckets[b].Fires += withJitter[i]
		out.Buckets[b].FiresWithoutJitter += without[i]
		out.PeakPerSecond = max(out.PeakPerSecond, withJitter[i])
		out.PeakPerSecondWithoutJitter = max(out.PeakPerSecondWithoutJitter, without[i])
		sum += withJitter[i]
	}
	out.MeanPerSecond = float64(sum) / math.Max(1, float64(seconds))
	return out
}
