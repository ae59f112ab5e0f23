package cron

import (
	"strconv"
	"strings"
)

// calendarCheck guards against a go-quartz v0.15.2 bug: its state machine builds dates with
// time.Date, which rolls an impossible date over, so "0 0 12 29 2 ?" asked on January 1st of a
// common year answers March 1st, and "0 0 12 31 4,5 ?" answers May 1st. When the day-of-month and
// month fields are plain numbers, lists, ranges or steps, every candidate is checked against them
// and a rolled-over one is passed by. Fields with L, W, # or a wildcard are not checked (go-quartz
// computes those from the real month length).
type calendarCheck struct {
	days   uint64 // bit d set: day-of-month d allowed; 0: not checked
	months uint64 // bit m set: month m allowed; 0: not checked
}

var monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// newCalendarCheck reads the day-of-month and month fields of a Quartz expression that go-quartz
// has already accepted.
func newCalendarCheck(quartzExpr string) calendarCheck {
	f := strings.Fields(quartzExpr)
	days := fieldMask(f[3], 1, 31, nil)
	if days == 0 {
		return calendarCheck{} // the month alone cannot roll over
	}
	return calendarCheck{days: days, months: fieldMask(f[4], 1, 12, monthNames)}
}

// ok says whether a wall-clock date satisfies the checked fields.
func (c calendarCheck) ok(month, day int) bool {
	return (c.days == 0 || c.days&(1<<day) != 0) && (c.months == 0 || c.months&(1<<month) != 0)
}

// fieldMask returns the set of values of a numeric cron field as a bit mask, or 0 when the field
// is a wildcard or uses a form other than numbers, names, lists, ranges and steps.
func fieldMask(field string, lo, hi int, names []string) uint64 {
	if field == "*" || field == "?" {
		return 0
	}
	var mask uint64
	for item := range strings.SplitSeq(field, ",") {
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			s, err := strconv.Atoi(stepText)
			if err != nil || s < 1 {
				return 0
			}
			step = s
		}
		from, to := lo, hi
		switch a, b, isRange := strings.Cut(base, "-"); {
		case base == "*":
		case isRange:
			var okA, okB bool
			from, okA = fieldValue(a, names)
			to, okB = fieldValue(b, names)
			if !okA || !okB {
				return 0
			}
		default:
			v, ok := fieldValue(base, names)
			if !ok {
				return 0
			}
			from = v
			if !hasStep {
				to = v
			}
		}
		if from < lo || to > hi || from > to {
			return 0
		}
		for v := from; v <= to; v += step {
			mask |= 1 << v
		}
	}
	return mask
}

func fieldValue(s string, names []string) (int, bool) {
	if v, err := strconv.Atoi(s); err == nil {
		return v, true
	}
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i + 1, true
		}
	}
	return 0, false
}
