package cron

import (
	"errors"
	"fmt"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// MaxPreviewFires is the most fires a preview lists.
const MaxPreviewFires = 1000

// DefaultBackfillLimit is the most fires a backfill lists when no limit is given.
const DefaultBackfillLimit = 1000

// Preview is what a trigger will do next.
type Preview struct {
	// Offset is the jitter offset added to every nominal time.
	Offset time.Duration
	// Fires are the next fires, oldest first; fewer than asked when the expression stops firing.
	Fires []Fire
}

// Preview returns the next n (1..MaxPreviewFires) fires whose scheduled time is strictly after
// from.
func (t *Trigger) Preview(from time.Time, n int) (Preview, error) {
	if n < 1 || n > MaxPreviewFires {
		return Preview{}, fmt.Errorf("preview: %d fires asked, want 1 to %d", n, MaxPreviewFires)
	}
	p := Preview{Offset: t.offset, Fires: make([]Fire, 0, n)}
	after := from
	for len(p.Fires) < n {
		f, err := t.Next(after)
		if errors.Is(err, quartz.ErrTriggerExpired) {
			break
		}
		if err != nil {
			return Preview{}, fmt.Errorf("preview: %w", err)
		}
		p.Fires = append(p.Fires, f)
		after = f.Scheduled
	}
	return p, nil
}

// Backfill lists scheduled fires of a past range.
type Backfill struct {
	// Fires are the fires whose scheduled time is in [from, to), oldest first.
	Fires []Fire
	// Truncated says the range holds more fires than the limit; Fires are the oldest ones.
	Truncated bool
}

// Backfill lists every fire whose scheduled (jittered) time is in [from, to), at most limit of
// them (DefaultBackfillLimit when limit is 0 or less). It is pure: whether the range is in the
// past is the caller's to check.
func (t *Trigger) Backfill(from, to time.Time, limit int) (Backfill, error) {
	if to.Before(from) {
		return Backfill{}, fmt.Errorf("backfill: range ends (%s) before it starts (%s)",
			to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if limit <= 0 {
		limit = DefaultBackfillLimit
	}
	var b Backfill
	err := t.each(from.Add(-time.Nanosecond), to.Add(-time.Nanosecond), func(f Fire) bool {
		if len(b.Fires) == limit {
			b.Truncated = true
			return false
		}
		b.Fires = append(b.Fires, f)
		return true
	})
	if err != nil {
		return Backfill{}, fmt.Errorf("backfill: %w", err)
	}
	return b, nil
}

// each calls yield with every fire whose scheduled time is in (after, until], oldest first,
// until yield returns false.
func (t *Trigger) each(after, until time.Time, yield func(Fire) bool) error {
	for {
		f, err := t.Next(after)
		if errors.Is(err, quartz.ErrTriggerExpired) {
			return nil
		}
		if err != nil {
			return err
		}
		if f.Scheduled.After(until) || !yield(f) {
			return nil
		}
		after = f.Scheduled
	}
}
