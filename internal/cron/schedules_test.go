package cron

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

func TestSchedulesShareAndMatchNewTrigger(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var s Schedules
	cfg := func(wf, expr, zone string, window int32, rep policy.RepeatedHour) TriggerConfig {
		return TriggerConfig{WorkflowID: wf, Expression: expr, TimeZone: zone, JitterWindowSeconds: &window, RepeatedHour: rep}
	}
	a, err := s.Trigger(cfg("wf-a", "*/15 * * * *", "Europe/Berlin", 300, policy.RepeatedHourDefault))
	is.NoErr(err)
	b, err := s.Trigger(cfg("wf-b", "*/15 * * * *", "Europe/Berlin", 300, policy.RepeatedHourDefault))
	is.NoErr(err)
	is.True(a.schedule == b.schedule) // same configuration: one schedule
	is.True(a.Offset() != b.Offset()) // each workflow keeps its own offset
	for _, other := range []TriggerConfig{
		cfg("wf-a", "*/15 * * * *", "Europe/Berlin", 60, policy.RepeatedHourDefault),
		cfg("wf-a", "*/15 * * * *", "America/New_York", 300, policy.RepeatedHourDefault),
		cfg("wf-a", "*/20 * * * *", "Europe/Berlin", 300, policy.RepeatedHourDefault),
		cfg("wf-a", "*/15 * * * *", "Europe/Berlin", 300, policy.RepeatedHourOnce),
	} {
		c, err := s.Trigger(other)
		is.NoErr(err)
		is.True(c.schedule != a.schedule) // any difference: a schedule of its own
	}
	_, err = s.Trigger(cfg("wf-a", "0 0 12 30 2 ?", "", 0, policy.RepeatedHourDefault))
	is.True(err != nil) // refused as NewTrigger refuses it
	_, err = s.Trigger(cfg("", "*/15 * * * *", "Europe/Berlin", 300, policy.RepeatedHourDefault))
	is.True(err != nil) // no workflow id

	// Through the October transition, a shared trigger fires as one of its own.
	own, err := NewTrigger(cfg("wf-b", "*/15 * * * *", "Europe/Berlin", 300, policy.RepeatedHourDefault))
	is.NoErr(err)
	at := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)
	for range 20 {
		want, err := own.Next(at)
		is.NoErr(err)
		got, err := b.Next(at)
		is.NoErr(err)
		is.Equal(got, want) // same fire
		is.Equal(b.Description(), own.Description())
		at = got.Scheduled
	}
}

func TestSchedulesForgetCollected(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var s Schedules
	tr, err := s.Trigger(TriggerConfig{WorkflowID: "wf", Expression: "@hourly"})
	is.NoErr(err)
	is.Equal(s.Len(), 1)
	runtime.KeepAlive(tr)
	tr = nil //nolint:ineffassign,wastedassign // dropped for the collector
	// The cleanup runs after a collection, on the runtime's cleanup goroutine: poll for it.
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 && time.Now().Before(deadline) {
		runtime.GC()
		runtime.Gosched()
	}
	is.Equal(s.Len(), 0) // a schedule no trigger uses is dropped
}

func TestWallNextRemembersOnlyWhatHolds(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, expr := range []string{"*/5 * * * *", "30 2 * * *", "0 0 12 29 2 ?", "0 0 12 31 4,5 ?", "0 */15 * * * ?"} {
		tr, err := NewTrigger(TriggerConfig{WorkflowID: "wf", Expression: expr})
		is.NoErr(err)
		rng := rand.New(rand.NewPCG(3, 4))
		for range 2000 {
			// Near and far, forwards and backwards: the order a million offsets ask in.
			w := start + rng.Int64N(4*366*86400)
			if rng.IntN(2) == 0 {
				w = start + rng.Int64N(900)
			}
			got, err := tr.wallNext(w)
			is.NoErr(err)
			want, err := tr.wallNextUncached(w)
			is.NoErr(err)
			is.Equal(got, want) // the remembered answer is go-quartz's
		}
	}
}
