package cron

import (
	"errors"
	"math"
	"time"

	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// How the next fire is found, DST included.
//
// The cron fields are matched against wall-clock time, which the wrapped go-quartz CronTrigger
// computes in UTC, where no clock ever jumps: a wall-clock time "2026-10-25 02:30" is represented
// as the instant 2026-10-25T02:30:00Z (a "wall second"). Mapping wall seconds to real instants is
// done here, one zone span at a time: inside a span the location keeps one UTC offset, so
// instant = wall - offset, and both are monotonic. At the edges of a span:
//
//   - a span that starts with the clocks going back (previous offset larger) begins with the
//     second pass of a repeated stretch: wall seconds below start+previousOffset were already
//     lived in the previous span. policy.RepeatedHourOnce rejects them there;
//     policy.RepeatedHourTwice keeps them.
//   - a span that ends with the clocks going forward (next offset larger) is followed by a gap:
//     wall seconds in [end+offset, end+nextOffset) never happen. policy.SkippedHourShift fires
//     them at end (the first instant after the gap, once however many of them match);
//     policy.SkippedHourSkip drops them.

// maxSpans bounds the walk over zone spans when looking for the next fire; a span is usually
// half a year, so this covers any schedule go-quartz can represent in nanoseconds (up to 2262).
const maxSpans = 1200

// maxWallSecond is the last second whose nanoseconds fit in an int64 (2262-04-11).
const maxWallSecond = math.MaxInt64 / int64(time.Second)

// zoneSpan is a stretch of time during which a location keeps one UTC offset.
type zoneSpan struct {
	start, end             int64 // unix seconds; math.MinInt64 / math.MaxInt64 when unbounded
	offset                 int64 // seconds east of UTC inside the span
	prevOffset, nextOffset int64 // offsets just before start and from end on
}

// spanAt returns the zone span of loc that contains the unix second sec.
//
// time.Time.ZoneBounds can answer with a span that ends before the instant asked about: past the
// end of the tzdata table (2037) Go computes spans from the zone's rule year by year, and on the
// last day of a leap year (2040-12-31 in Europe/Berlin) it returns the span that ended the day
// before. Such a span is cut to start at sec and end where the next span Go reports starts.
func spanAt(loc *time.Location, sec int64) zoneSpan {
	sp := rawSpan(loc, sec)
	if sp.end > sec {
		return sp
	}
	sp.start = sec
	sp.end = math.MaxInt64
	for step := int64(time.Hour / time.Second); step < 1<<40; step *= 2 {
		next := rawSpan(loc, sec+step)
		if next.start > sec {
			sp.end = next.start
			break
		}
		if next.end > sec {
			sp.end = next.end
			break
		}
	}
	_, prev := time.Unix(sp.start-1, 0).In(loc).Zone()
	sp.prevOffset = int64(prev)
	if sp.end != math.MaxInt64 {
		_, next := time.Unix(sp.end, 0).In(loc).Zone()
		sp.nextOffset = int64(next)
	}
	return sp
}

// rawSpan is the span ZoneBounds reports for the unix second sec.
func rawSpan(loc *time.Location, sec int64) zoneSpan {
	t := time.Unix(sec, 0).In(loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	sp := zoneSpan{
		start: math.MinInt64, end: math.MaxInt64,
		offset: int64(off), prevOffset: int64(off), nextOffset: int64(off),
	}
	if !start.IsZero() {
		sp.start = start.Unix()
		_, prev := time.Unix(sp.start-1, 0).In(loc).Zone()
		sp.prevOffset = int64(prev)
	}
	if !end.IsZero() {
		sp.end = end.Unix()
		_, next := end.In(loc).Zone()
		sp.nextOffset = int64(next)
	}
	return sp
}

// wallStep records an answer of wallNext: for every w in [from, next) it is next.
type wallStep struct{ from, next int64 }

// wallNext returns the first wall second strictly after w that matches the cron fields.
//
// The schedule's triggers ask for nearly the same seconds (a million workflows on "*/5 * * * *"
// ask for the next five-minute mark after now less their offsets), and go-quartz builds a state
// machine of some 500 bytes for each answer: the last two answers, each widened to every w it
// holds for, are kept and answer again. Each is true on its own, so a lost race only costs a
// recomputation.
func (sc *schedule) wallNext(w int64) (int64, error) {
	for i := range sc.steps {
		// Not at the end of time, where the answer is an error whatever go-quartz says.
		if st := sc.steps[i].Load(); st != nil && st.from <= w && w < st.next && w < maxWallSecond {
			return st.next, nil
		}
	}
	n, err := sc.wallNextUncached(w)
	if err != nil {
		return 0, err
	}
	i := 0 // the step to replace: the one ending at n (widened), else an empty or the earlier one
	switch a, b := sc.steps[0].Load(), sc.steps[1].Load(); {
	case a != nil && a.next == n:
	case b != nil && b.next == n, a != nil && b == nil, a != nil && b.next < a.next:
		i = 1
	}
	sc.steps[i].Store(&wallStep{from: w, next: n})
	return n, nil
}

// wallNextUncached is wallNext, asking go-quartz.
func (sc *schedule) wallNextUncached(w int64) (int64, error) {
	t := sc
	for {
		if w >= maxWallSecond {
			return 0, quartz.ErrTriggerExpired
		}
		next, err := t.cron.NextFireTime(w * int64(time.Second))
		if err != nil {
			return 0, err
		}
		n := next / int64(time.Second)
		if n <= w { // past 2262 the nanoseconds wrapped around
			return 0, quartz.ErrTriggerExpired
		}
		if d := time.Unix(n, 0).UTC(); t.calendar.ok(int(d.Month()), d.Day()) {
			return n, nil
		}
		w = n // a rolled-over date (see calendar.go): search on from it
	}
}

// nextNominal returns the first nominal (unjittered) fire instant, in unix seconds, strictly
// after the unix second after, applying the trigger's DST policies.
func (t *Trigger) nextNominal(after int64) (int64, error) {
	cur := after
	for i := range maxSpans {
		sp := spanAt(t.loc, cur+1)
		// after is the last second before a gap: the gap's shifted fire, at the span's start, is
		// still to come (later spans are entered with their gap already checked).
		if i == 0 && sp.start == cur+1 && sp.prevOffset < sp.offset && t.skipped == policy.SkippedHourShift {
			if w, err := t.wallNext(sp.start + sp.prevOffset - 1); err == nil && w < sp.start+sp.offset {
				return sp.start, nil
			}
		}
		// The second pass of a repeated stretch: instants in [start, start+back).
		repeatEnd := sp.start
		if sp.prevOffset > sp.offset {
			repeatEnd = sp.start + (sp.prevOffset - sp.offset)
		}
		w, err := t.wallNext(cur + sp.offset)
		for ; err == nil && (sp.end == math.MaxInt64 || w-sp.offset < sp.end); w, err = t.wallNext(w) {
			u := w - sp.offset
			if u < repeatEnd && t.repeated == policy.RepeatedHourOnce {
				w = repeatEnd + sp.offset - 1 // already fired on the first pass; jump past
				continue
			}
			return u, nil
		}
		if err != nil {
			// No matching wall second is left after w; but when the clocks go back at the end of
			// the span, the next span lives the wall seconds from end+nextOffset on again, and
			// may hold the second pass of the times just fired ("0 0,30 2 31 10 ? 2027" in
			// Berlin: 02:00 and 02:30 CET are its last fires).
			if errors.Is(err, quartz.ErrTriggerExpired) && sp.end != math.MaxInt64 && sp.nextOffset < sp.offset {
				cur = sp.end - 1
				continue
			}
			return 0, err
		}
		// w is the first matching wall second at or after the end of the span.
		if sp.nextOffset > sp.offset && w < sp.end+sp.nextOffset && t.skipped == policy.SkippedHourShift {
			return sp.end, nil // a matching wall time fell in the gap
		}
		cur = sp.end - 1
	}
	return 0, quartz.ErrTriggerExpired
}
