package cron

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// The DST report: which zone transitions of the coming months touch a trigger, and what the
// trigger does there.
//
// Transitions are found with spanAt (dst.go), the spans of constant UTC offset the trigger
// itself walks, so a transition the report names is one the trigger meets; a span boundary
// where only the zone's abbreviation changes is not a transition. The expression's times inside
// a skipped or repeated stretch are the wall seconds wallNext finds there, and the fires are
// asked of Next: the report says what the trigger will do because the trigger says it.

// Months a DST report looks ahead.
const (
	DefaultDSTReportMonths = 12
	MaxDSTReportMonths     = 60
)

// maxDSTListed caps the wall-clock times and the fires listed for one transition: an expression
// with a seconds wildcard has 3,600 times in a repeated hour (a day, where a zone skipped one).
const maxDSTListed = 1440

// DSTEffect is what a trigger does at one transition.
type DSTEffect int

const (
	// DSTDoubled: a repeated wall-clock time fires on both passes (policy.RepeatedHourTwice).
	DSTDoubled DSTEffect = iota + 1
	// DSTOnce: a repeated wall-clock time fires on its first pass only (policy.RepeatedHourOnce).
	DSTOnce
	// DSTShifted: skipped wall-clock times fire at the first instant after the gap
	// (policy.SkippedHourShift).
	DSTShifted
	// DSTSkipped: skipped wall-clock times do not fire (policy.SkippedHourSkip).
	DSTSkipped
)

// String names the effect as the proto enum does, without the prefix.
func (e DSTEffect) String() string {
	switch e {
	case DSTDoubled:
		return "DOUBLED"
	case DSTOnce:
		return "ONCE"
	case DSTShifted:
		return "SHIFTED"
	case DSTSkipped:
		return "SKIPPED"
	default:
		return fmt.Sprintf("DSTEffect(%d)", int(e))
	}
}

// DSTTransition is one zone transition whose skipped or repeated stretch holds a time of the
// expression.
type DSTTransition struct {
	// At is the instant of the transition, in the trigger's location.
	At time.Time
	// OffsetBefore and OffsetAfter are the UTC offsets on either side of it.
	OffsetBefore, OffsetAfter time.Duration
	// Span is the wall-clock stretch skipped or repeated: "2027-03-28T02:00/03:00" (the end
	// with its date when it is on another day, "24:00" when it is the midnight ending the first).
	Span string
	// Times are the expression's wall-clock times in the stretch: "02:30" (with the date when
	// it is not the stretch's first day, with seconds when they are not zero); at most 1440.
	Times []string
	// Effect is what the trigger does.
	Effect DSTEffect
	// Policy is the policy that decides, described: "REPEATED_HOUR_POLICY_ONCE (default: the
	// hour field is fixed)".
	Policy string
	// Fires are the trigger's fires for those times, oldest first (at most 1440): both passes
	// or the first for a repeated stretch, the one shifted fire or none for a skipped one.
	Fires []Fire
}

// Repeated says whether the clocks go back: the stretch is lived twice. Otherwise it is skipped.
func (tr DSTTransition) Repeated() bool { return tr.OffsetAfter < tr.OffsetBefore }

// DSTReport is what a trigger does at the zone transitions of a stretch of time.
type DSTReport struct {
	// Zone is the trigger's IANA time zone.
	Zone string
	// RepeatedHour and SkippedHour are the policies in force (never Default).
	RepeatedHour policy.RepeatedHour
	SkippedHour  policy.SkippedHour
	// RepeatedPolicy and SkippedPolicy describe them, saying when they are the default.
	RepeatedPolicy, SkippedPolicy string
	// Transitions touch the expression, oldest first; a zone without transitions has none.
	Transitions []DSTTransition
}

// DSTReport lists the zone transitions in (from, from+months] whose skipped or repeated
// wall-clock stretch holds a time of the expression, with what the trigger does there. months
// 0 is DefaultDSTReportMonths; more than MaxDSTReportMonths is an error.
func (t *Trigger) DSTReport(from time.Time, months int) (DSTReport, error) {
	if months == 0 {
		months = DefaultDSTReportMonths
	}
	if months < 0 || months > MaxDSTReportMonths {
		return DSTReport{}, fmt.Errorf("dst report: %d months, want 1 to %d", months, MaxDSTReportMonths)
	}
	r := DSTReport{
		Zone:           t.loc.String(),
		RepeatedHour:   t.repeated,
		SkippedHour:    t.skipped,
		RepeatedPolicy: t.describePolicy("REPEATED_HOUR_POLICY_"+t.repeated.String(), t.defaulted[0]),
		SkippedPolicy:  t.describePolicy("SKIPPED_HOUR_POLICY_"+t.skipped.String(), t.defaulted[1]),
	}
	until := from.AddDate(0, months, 0).Unix()
	cur := from.Unix()
	for range maxSpans {
		sp := spanAt(t.loc, cur)
		if sp.end == math.MaxInt64 || sp.end > until {
			break
		}
		if sp.nextOffset != sp.offset {
			tr, ok, err := t.transition(sp.end, sp.offset, sp.nextOffset, r)
			if err != nil {
				return DSTReport{}, fmt.Errorf("dst report of %q: %w", t.expression, err)
			}
			if ok {
				r.Transitions = append(r.Transitions, tr)
			}
		}
		cur = sp.end
	}
	return r, nil
}

// describePolicy names a policy in force and why.
func (t *Trigger) describePolicy(name string, defaulted bool) string {
	switch {
	case !defaulted:
		return name + " (set on the trigger)"
	case t.fixedHour:
		return name + " (default: the hour field is fixed)"
	default:
		return name + " (default: the hour field is a wildcard, range or step)"
	}
}

// transition describes the transition at the unix second at, from offset before to offset
// after (seconds east of UTC); ok is false when its stretch holds no time of the expression.
func (t *Trigger) transition(at, before, after int64, r DSTReport) (DSTTransition, bool, error) {
	// The stretch, in wall seconds: [at+after, at+before) lived twice when the clocks go back,
	// [at+before, at+after) never lived when they go forward.
	lo, hi := at+min(before, after), at+max(before, after)
	var wall []int64
	for w, err := t.wallNext(lo - 1); ; w, err = t.wallNext(w) {
		if errors.Is(err, quartz.ErrTriggerExpired) || (err == nil && w >= hi) {
			break
		}
		if err != nil {
			return DSTTransition{}, false, err
		}
		wall = append(wall, w)
		if len(wall) == maxDSTListed {
			break
		}
	}
	if len(wall) == 0 {
		return DSTTransition{}, false, nil
	}
	tr := DSTTransition{
		At:           time.Unix(at, 0).In(t.loc),
		OffsetBefore: time.Duration(before) * time.Second,
		OffsetAfter:  time.Duration(after) * time.Second,
		Span:         wallClock(lo) + "/" + wallClockIn(hi, lo, true),
	}
	for _, w := range wall {
		tr.Times = append(tr.Times, wallClockIn(w, lo, false))
	}
	if tr.Repeated() {
		tr.Effect, tr.Policy = DSTOnce, r.RepeatedPolicy
		if t.repeated == policy.RepeatedHourTwice {
			tr.Effect = DSTDoubled
		}
		// Both passes: the instants [at-(before-after), at+(before-after)).
		d := before - after
		first, last := time.Unix(at-d-1, 0).Add(t.offset), time.Unix(at+d-1, 0).Add(t.offset)
		err := t.each(first, last, func(f Fire) bool {
			tr.Fires = append(tr.Fires, f)
			return len(tr.Fires) < maxDSTListed
		})
		if err != nil {
			return DSTTransition{}, false, err
		}
		return tr, true, nil
	}
	tr.Effect, tr.Policy = DSTSkipped, r.SkippedPolicy
	if t.skipped == policy.SkippedHourShift {
		tr.Effect = DSTShifted
		// The shifted fire is the first at or after the transition.
		f, err := t.Next(time.Unix(at-1, 0).Add(t.offset))
		if err != nil {
			return DSTTransition{}, false, err
		}
		if f.Nominal.Unix() == at {
			tr.Fires = append(tr.Fires, f)
		}
	}
	return tr, true, nil
}

// wallClock formats the wall second w as "2006-01-02T15:04", with seconds when it has some.
func wallClock(w int64) string {
	t := time.Unix(w, 0).UTC()
	if t.Second() != 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04")
}

// wallClockIn formats the wall second w as wallClock does, without the date when w falls on
// the day of the wall second start, or (atEnd) is the midnight that ends that day.
func wallClockIn(w, start int64, atEnd bool) string {
	s, day := wallClock(w), wallClock(start)[:len("2006-01-02")]
	if strings.HasPrefix(s, day) {
		return s[len("2006-01-02T"):]
	}
	if atEnd && w-start <= 24*60*60 && strings.HasSuffix(s, "T00:00") {
		return "24:00"
	}
	return s
}

// Warning ids of DSTReport.Warnings.
const (
	WarnSkippedHour  = "dst.skipped_hour"
	WarnRepeatedHour = "dst.repeated_hour"
)

// DSTWarning is a deploy warning drawn from a report: the expression has times in a skipped or
// repeated stretch.
type DSTWarning struct {
	// ID is WarnSkippedHour or WarnRepeatedHour.
	ID string
	// Message names the first such stretch, its date and what the policy does there, and how
	// many more there are.
	Message string
}

// Warnings are the report's transitions in words: one warning for the skipped stretches and
// one for the repeated ones, each naming the first.
func (r DSTReport) Warnings() []DSTWarning {
	var out []DSTWarning
	for _, repeated := range []bool{false, true} {
		var first *DSTTransition
		var more []string
		for i := range r.Transitions {
			tr := &r.Transitions[i]
			if tr.Repeated() != repeated {
				continue
			}
			if first == nil {
				first = tr
				continue
			}
			more = append(more, tr.Span[:len("2006-01-02")])
		}
		if first == nil {
			continue
		}
		w := DSTWarning{ID: WarnSkippedHour}
		verb := "skips"
		if repeated {
			w.ID, verb = WarnRepeatedHour, "repeats"
		}
		it := "it"
		if len(first.Times) > 1 {
			it = "them"
		}
		w.Message = fmt.Sprintf("%s %s %s, which holds %s of this expression: %s %s",
			r.Zone, verb, first.Span, strings.Join(first.Times, ", "), first.Policy, first.effectInWords(it))
		if len(more) > 0 {
			w.Message += fmt.Sprintf("; the same on %s", strings.Join(more, ", "))
		}
		out = append(out, w)
	}
	return out
}

// effectInWords says what the trigger does with the times of the stretch ("it" or "them").
func (tr *DSTTransition) effectInWords(it string) string {
	switch tr.Effect {
	case DSTDoubled:
		return "fires " + it + " twice, on both passes"
	case DSTOnce:
		return "fires " + it + " once, on the first pass"
	case DSTShifted:
		if len(tr.Fires) > 0 {
			return "fires " + it + " once at " + tr.Fires[0].Nominal.Format("15:04 MST") + " instead"
		}
		return "fires " + it + " at the end of the gap instead"
	default:
		return "does not fire " + it + " that day"
	}
}
