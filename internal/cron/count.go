package cron

import (
	"fmt"
	"time"
)

// Count returns how many fires have their scheduled (jittered) time in [from, to): what
// Backfill would list without a limit, counted without holding them. A backfill operation
// counts its range with it when it starts.
func (t *Trigger) Count(from, to time.Time) (int64, error) {
	if !to.After(from) {
		return 0, nil
	}
	var n int64
	err := t.each(from.Add(-time.Nanosecond), to.Add(-time.Nanosecond), func(Fire) bool {
		n++
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("count fires: %w", err)
	}
	return n, nil
}
