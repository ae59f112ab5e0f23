package calendars

import (
	"fmt"
	"time"
)

// MaxWindowSteps bounds how many adjacent or overlapping elements WindowEnd follows; a
// blackout longer than that has no end (the zero time).
const MaxWindowSteps = 1000

// day is a civil date as days since 1970-01-01.
type day int64

func dayOf(y int, m time.Month, d int) day {
	return day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func (d day) date() (int, time.Month, int) {
	return time.Unix(int64(d)*86400, 0).UTC().Date()
}

func (d day) weekday() time.Weekday {
	return time.Unix(int64(d)*86400, 0).UTC().Weekday()
}

// span is a weekly window on the day it starts on: [start, end) since that day's midnight;
// end is at most 48h (a window past midnight ends on the next day).
type span struct {
	start, end time.Duration
}

// Matcher is one calendar compiled for matching. It is immutable and safe for concurrent use.
type Matcher struct {
	name     string
	loc      *time.Location
	holidays map[day]bool
	ranges   [][2]day  // both ends included
	windows  [7][]span // by the weekday the window starts on
}

// Compile builds the Matcher of a valid calendar (Validate found nothing).
func Compile(c *Calendar) (*Matcher, error) {
	loc, err := time.LoadLocation(c.Normalize().Timezone)
	if err != nil {
		return nil, fmt.Errorf("calendar %s: unknown time zone %q", c.Name, c.Timezone)
	}
	m := &Matcher{name: c.Name, loc: loc, holidays: map[day]bool{}}
	parse := func(s string) (day, error) {
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			return 0, fmt.Errorf("calendar %s: %q is not a date", c.Name, s)
		}
		return dayOf(t.Date()), nil
	}
	for _, h := range c.Holidays {
		d, err := parse(h)
		if err != nil {
			return nil, err
		}
		m.holidays[d] = true
	}
	for _, r := range c.DateRanges {
		from, err := parse(r.Start)
		if err != nil {
			return nil, err
		}
		to, err := parse(r.End)
		if err != nil {
			return nil, err
		}
		m.ranges = append(m.ranges, [2]day{from, to})
	}
	for _, w := range c.WeeklyWindows {
		start, okS := clock(w.Start, false)
		end, okE := clock(w.End, true)
		if !okS || !okE {
			return nil, fmt.Errorf("calendar %s: window %s-%s is not well formed", c.Name, w.Start, w.End)
		}
		if end <= start {
			end += 24 * time.Hour
		}
		for _, d := range w.Days {
			if d < time.Sunday || d > time.Saturday {
				return nil, fmt.Errorf("calendar %s: day %d is not a day of the week", c.Name, d)
			}
			m.windows[d] = append(m.windows[d], span{start, end})
		}
	}
	return m, nil
}

// Name returns the calendar's name.
func (m *Matcher) Name() string { return m.name }

// Covers says whether t falls in one of the calendar's windows.
func (m *Matcher) Covers(t time.Time) bool {
	_, ok := m.end(t)
	return ok
}

// wall returns t's wall-clock day and time since that day's midnight in the calendar's zone.
func (m *Matcher) wall(t time.Time) (day, time.Duration) {
	w := t.In(m.loc)
	y, mo, d := w.Date()
	h, mi, s := w.Clock()
	return dayOf(y, mo, d), time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(w.Nanosecond())
}

// end returns the latest end of the calendar's elements that cover t, and whether any does.
func (m *Matcher) end(t time.Time) (time.Time, bool) {
	d, at := m.wall(t)
	var best time.Time
	found := false
	take := func(endDay day, endAt time.Duration) {
		e := m.instant(endDay, endAt, t)
		if !found || e.After(best) {
			best = e
		}
		found = true
	}
	if m.holidays[d] {
		take(d+1, 0)
	}
	for _, r := range m.ranges {
		if r[0] <= d && d <= r[1] {
			take(r[1]+1, 0)
		}
	}
	for _, s := range m.windows[d.weekday()] {
		if s.start <= at && at < s.end {
			take(d, s.end)
		}
	}
	for _, s := range m.windows[(d - 1).weekday()] {
		// A window of yesterday that runs past midnight.
		if s.end > 24*time.Hour && at < s.end-24*time.Hour {
			take(d-1, s.end)
		}
	}
	return best, found
}

// instant returns the first instant after after whose wall-clock reading in the calendar's
// zone is at least the wall-clock time at (since the midnight of d; may exceed 24h). A time
// the zone skips (spring forward) is reached when the clocks jump; a time it repeats (fall
// back) is reached at its first pass after after.
func (m *Matcher) instant(d day, at time.Duration, after time.Time) time.Time {
	y, mo, dd := d.date()
	naive := time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC).Add(at) // the wall-clock time, as if UTC
	var best time.Time
	for _, probe := range []time.Time{naive.Add(-36 * time.Hour), naive.Add(36 * time.Hour)} {
		_, off := probe.In(m.loc).Zone()
		u := naive.Add(-time.Duration(off) * time.Second)
		if !sameWall(u.In(m.loc), naive) || !u.After(after) {
			continue
		}
		if best.IsZero() || u.Before(best) {
			best = u
		}
	}
	if !best.IsZero() {
		return best
	}
	// Skipped by the zone: read with the offset before the jump, the instant is past the
	// jump; the jump itself is where that zone period starts.
	_, off := naive.Add(-36 * time.Hour).In(m.loc).Zone()
	u := naive.Add(-time.Duration(off) * time.Second)
	if start, _ := u.In(m.loc).ZoneBounds(); !start.IsZero() && start.After(after) {
		return start
	}
	return u
}

// sameWall says whether local reads the wall-clock time naive (given as UTC).
func sameWall(local, naive time.Time) bool {
	y, mo, d := local.Date()
	h, mi, s := local.Clock()
	return time.Date(y, mo, d, h, mi, s, local.Nanosecond(), time.UTC).Equal(naive)
}

// Set is the calendars of one trigger, in the order it names them.
type Set []*Matcher

// Covering returns the name of the first calendar of the set that covers t; "" when none.
func (s Set) Covering(t time.Time) string {
	for _, m := range s {
		if m.Covers(t) {
			return m.name
		}
	}
	return ""
}

// WindowEnd returns when the blackout covering t ends: the first instant after t covered by
// no calendar of the set, following adjacent and overlapping windows of all of them. t itself
// when no calendar covers it; the zero time when the blackout goes on past MaxWindowSteps
// elements.
func (s Set) WindowEnd(t time.Time) time.Time {
	cur := t
	for range MaxWindowSteps {
		var next time.Time
		covered := false
		for _, m := range s {
			if e, ok := m.end(cur); ok {
				if !covered || e.After(next) {
					next = e
				}
				covered = true
			}
		}
		if !covered {
			return cur
		}
		cur = next
	}
	return time.Time{}
}
