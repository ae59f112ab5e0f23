package cron

import (
	"testing"
	"time"

	"github.com/matryer/is"
)

// Count agrees with Backfill's list over the same range, and an empty or reversed range
// counts nothing.
func TestCount(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig, err := NewTrigger(TriggerConfig{WorkflowID: "wf-1", Expression: "*/5 * * * *", TimeZone: "UTC"})
	is.NoErr(err)
	from, to := utc(t, "2026-03-01T00:00:00Z"), utc(t, "2026-03-02T00:00:00Z")
	n, err := trig.Count(from, to)
	is.NoErr(err)
	b, err := trig.Backfill(from, to, 10000)
	is.NoErr(err)
	is.Equal(n, int64(len(b.Fires))) // the same fires
	is.Equal(n, int64(288))          // every five minutes of a day
	n, err = trig.Count(to, from)
	is.NoErr(err)
	is.Equal(n, int64(0)) // reversed
	n, err = trig.Count(from, from.Add(time.Nanosecond))
	is.NoErr(err)
	is.True(n <= 1) // at most the one fire at from
}
