package cron

import (
	"testing"
	"time"

	"github.com/matryer/is"
)

func scheduled(fires []Fire) []string {
	out := make([]string, len(fires))
	for i, f := range fires {
		out[i] = f.Scheduled.UTC().Format(time.RFC3339)
	}
	return out
}

func TestPreview(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// "wf-1" hashes to 161 s = 2m41s of the default window.
	trig, err := NewTrigger(TriggerConfig{WorkflowID: "wf-1", Expression: "0 9 * * *", TimeZone: "Europe/Berlin"})
	is.NoErr(err)
	p, err := trig.Preview(utc(t, "2026-03-27T12:00:00Z"), 3)
	is.NoErr(err)
	is.Equal(p.Offset, 161*time.Second)
	is.Equal(len(p.Fires), 3)
	is.Equal(p.Fires[0].Nominal.Format(time.RFC3339), "2026-03-28T09:00:00+01:00")   // nominal, in the trigger's zone
	is.Equal(p.Fires[0].Scheduled.Format(time.RFC3339), "2026-03-28T09:02:41+01:00") // jittered
	is.Equal(p.Fires[1].Nominal.Format(time.RFC3339), "2026-03-29T09:00:00+02:00")   // summer time
	is.Equal(scheduled(p.Fires), []string{"2026-03-28T08:02:41Z", "2026-03-29T07:02:41Z", "2026-03-30T07:02:41Z"})

	_, err = trig.Preview(time.Time{}, 0)
	is.True(err != nil) // n too small
	_, err = trig.Preview(time.Time{}, MaxPreviewFires+1)
	is.True(err != nil) // n too large

	once := newTestTrigger(t, TriggerConfig{Expression: "0 0 12 1 1 ? 2030"})
	p, err = once.Preview(utc(t, "2026-01-01T00:00:00Z"), 5)
	is.NoErr(err)
	is.Equal(scheduled(p.Fires), []string{"2030-01-01T12:00:00Z"}) // fewer when the expression ends
}

func TestBackfill(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig, err := NewTrigger(TriggerConfig{WorkflowID: "workflow-123", Expression: "0 * * * *"}) // offset 37 s
	is.NoErr(err)
	from, to := utc(t, "2026-06-01T10:00:37Z"), utc(t, "2026-06-01T13:00:37Z")

	b, err := trig.Backfill(from, to, 0)
	is.NoErr(err)
	is.True(!b.Truncated)
	is.Equal(scheduled(b.Fires), []string{"2026-06-01T10:00:37Z", "2026-06-01T11:00:37Z", "2026-06-01T12:00:37Z"}) // [from, to)
	is.Equal(b.Fires[0].Nominal.UTC(), utc(t, "2026-06-01T10:00:00Z"))

	b, err = trig.Backfill(from, to, 2)
	is.NoErr(err)
	is.True(b.Truncated)                                                                   // a third fire exists
	is.Equal(scheduled(b.Fires), []string{"2026-06-01T10:00:37Z", "2026-06-01T11:00:37Z"}) // the oldest

	b, err = trig.Backfill(from, from, 0)
	is.NoErr(err)
	is.Equal(len(b.Fires), 0) // empty range
	_, err = trig.Backfill(to, from, 0)
	is.True(err != nil) // reversed range

	once := newTestTrigger(t, TriggerConfig{Expression: "0 0 12 1 1 ? 2030"})
	b, err = once.Backfill(utc(t, "2026-01-01T00:00:00Z"), utc(t, "2040-01-01T00:00:00Z"), 0)
	is.NoErr(err)
	is.Equal(scheduled(b.Fires), []string{"2030-01-01T12:00:00Z"}) // the expression ends
}
