package policy

import (
	"errors"
	"fmt"
)

// ErrUnknown is wrapped by every error about a name or value that is not one of a policy's.
var ErrUnknown = errors.New("unknown policy")

// names is one policy's table: the text of each value, indexed by the value. The zero value's
// text is "" (unset: the default applies).
type names []string

// text returns the text of v, or an error when v is not one of the table's values.
func (n names) text(kind string, v uint8) (string, error) {
	if int(v) >= len(n) {
		return "", fmt.Errorf("%w: %s policy %d", ErrUnknown, kind, v)
	}
	return n[v], nil
}

// parse returns the value whose text is s, or an error when none is.
func (n names) parse(kind, s string) (uint8, error) {
	for i, name := range n {
		if name == s {
			return uint8(i), nil //nolint:gosec // a table has a handful of entries
		}
	}
	return 0, fmt.Errorf("%w: %s policy %q", ErrUnknown, kind, s)
}

// str is the String of v: its text, zero for the zero value, Kind(v) when unknown.
func (n names) str(goType, zero string, v uint8) string {
	switch {
	case v == 0:
		return zero
	case int(v) < len(n):
		return n[v]
	default:
		return fmt.Sprintf("%s(%d)", goType, v)
	}
}

// Overlap says what happens when an execution of a workflow is due while another of the same
// workflow runs. Its text (JSON, workflows.deployment_config.overlap_policy) is the proto enum's
// name without the OVERLAP_POLICY_ prefix; the zero value, OverlapUnspecified, is "".
type Overlap uint8

const (
	// OverlapUnspecified is an unset policy: DefaultOverlap applies (OrDefault).
	OverlapUnspecified Overlap = iota
	// OverlapSkip ends the newcomer SKIPPED.
	OverlapSkip
	// OverlapBufferOne lets at most one newcomer wait; further ones end SKIPPED.
	OverlapBufferOne
	// OverlapBufferAll lets every newcomer wait its turn.
	OverlapBufferAll
	// OverlapCancelOther cancels the older executions; the newest one runs.
	OverlapCancelOther
	// OverlapAllowAll takes no workflow lock: executions run side by side.
	OverlapAllowAll
)

// DefaultOverlap is the overlap policy of a deployment that names none.
const DefaultOverlap = OverlapSkip

var overlapNames = names{"", "SKIP", "BUFFER_ONE", "BUFFER_ALL", "CANCEL_OTHER", "ALLOW_ALL"}

// ParseOverlap returns the overlap policy whose text is s ("" is OverlapUnspecified).
func ParseOverlap(s string) (Overlap, error) {
	v, err := overlapNames.parse("overlap", s)
	return Overlap(v), err
}

// OrDefault returns p, or DefaultOverlap when p is OverlapUnspecified.
func (p Overlap) OrDefault() Overlap {
	if p == OverlapUnspecified {
		return DefaultOverlap
	}
	return p
}

// Valid reports whether p is one of the constants (OverlapUnspecified included).
func (p Overlap) Valid() bool { return int(p) < len(overlapNames) }

// String returns p's text, "UNSPECIFIED" for OverlapUnspecified.
func (p Overlap) String() string { return overlapNames.str("Overlap", "UNSPECIFIED", uint8(p)) }

// MarshalText returns p's text; an unknown p is an error.
func (p Overlap) MarshalText() ([]byte, error) {
	s, err := overlapNames.text("overlap", uint8(p))
	return []byte(s), err
}

// UnmarshalText sets p from its text; an unknown text is an error.
func (p *Overlap) UnmarshalText(b []byte) error {
	v, err := ParseOverlap(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Misfire says what the scheduler does with the fire times of a trigger it missed while no
// scheduler ran (catch-up). Its text (JSON, workflows.deployment_config.misfire_policy) is the
// proto enum's name without the MISFIRE_POLICY_ prefix; the zero value, MisfireUnspecified, is "".
type Misfire uint8

const (
	// MisfireUnspecified is an unset policy: DefaultMisfire applies (OrDefault).
	MisfireUnspecified Misfire = iota
	// MisfireFireAll fires every missed time inside the catch-up window (up to the cap).
	MisfireFireAll
	// MisfireFireOnce fires only the latest missed time inside the catch-up window.
	MisfireFireOnce
	// MisfireSkip fires none of the missed times.
	MisfireSkip
)

// DefaultMisfire is the misfire policy of a deployment that names none.
const DefaultMisfire = MisfireFireOnce

var misfireNames = names{"", "FIRE_ALL", "FIRE_ONCE", "SKIP"}

// ParseMisfire returns the misfire policy whose text is s ("" is MisfireUnspecified).
func ParseMisfire(s string) (Misfire, error) {
	v, err := misfireNames.parse("misfire", s)
	return Misfire(v), err
}

// OrDefault returns p, or DefaultMisfire when p is MisfireUnspecified.
func (p Misfire) OrDefault() Misfire {
	if p == MisfireUnspecified {
		return DefaultMisfire
	}
	return p
}

// Valid reports whether p is one of the constants (MisfireUnspecified included).
func (p Misfire) Valid() bool { return int(p) < len(misfireNames) }

// String returns p's text, "UNSPECIFIED" for MisfireUnspecified.
func (p Misfire) String() string { return misfireNames.str("Misfire", "UNSPECIFIED", uint8(p)) }

// MarshalText returns p's text; an unknown p is an error.
func (p Misfire) MarshalText() ([]byte, error) {
	s, err := misfireNames.text("misfire", uint8(p))
	return []byte(s), err
}

// UnmarshalText sets p from its text; an unknown text is an error.
func (p *Misfire) UnmarshalText(b []byte) error {
	v, err := ParseMisfire(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// RepeatedHour says how a cron trigger fires when the clocks go back and a stretch of wall-clock
// time happens twice (in Europe/Berlin on the last Sunday of October 02:00-03:00 is lived once
// in CEST, then again in CET). Its text (triggers.repeated_hour) is the proto enum's name without
// the REPEATED_HOUR_POLICY_ prefix; the zero value, RepeatedHourDefault, is "".
type RepeatedHour uint8

const (
	// RepeatedHourDefault, the default, follows classic cron: ONCE when the hour field is a
	// fixed value ("30 2 * * *"), TWICE when it is a wildcard, range or step ("*/15 * * * *").
	// internal/cron resolves it per expression.
	RepeatedHourDefault RepeatedHour = iota
	// RepeatedHourOnce fires a repeated wall-clock time on its first pass only.
	RepeatedHourOnce
	// RepeatedHourTwice fires a repeated wall-clock time on both passes: by real time.
	RepeatedHourTwice
)

var repeatedHourNames = names{"", "ONCE", "TWICE"}

// ParseRepeatedHour returns the repeated-hour policy whose text is s ("" is RepeatedHourDefault).
func ParseRepeatedHour(s string) (RepeatedHour, error) {
	v, err := repeatedHourNames.parse("repeated-hour", s)
	return RepeatedHour(v), err
}

// Valid reports whether p is one of the constants.
func (p RepeatedHour) Valid() bool { return int(p) < len(repeatedHourNames) }

// String returns p's text, "DEFAULT" for RepeatedHourDefault.
func (p RepeatedHour) String() string {
	return repeatedHourNames.str("RepeatedHour", "DEFAULT", uint8(p))
}

// MarshalText returns p's text; an unknown p is an error.
func (p RepeatedHour) MarshalText() ([]byte, error) {
	s, err := repeatedHourNames.text("repeated-hour", uint8(p))
	return []byte(s), err
}

// UnmarshalText sets p from its text; an unknown text is an error.
func (p *RepeatedHour) UnmarshalText(b []byte) error {
	v, err := ParseRepeatedHour(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// SkippedHour says how a cron trigger fires when the clocks go forward and a stretch of
// wall-clock time never happens (in America/New_York on the second Sunday of March
// 02:00-03:00). Its text (triggers.skipped_hour) is the proto enum's name without the
// SKIPPED_HOUR_POLICY_ prefix; the zero value, SkippedHourDefault, is "".
type SkippedHour uint8

const (
	// SkippedHourDefault, the default, follows classic cron: SHIFT when the hour field is a
	// fixed value, SKIP when it is a wildcard, range or step (those run by real time, and the
	// skipped times never came). internal/cron resolves it per expression.
	SkippedHourDefault SkippedHour = iota
	// SkippedHourShift fires a skipped wall-clock time at the first instant after the gap (03:00
	// in New York); several skipped times of one gap make one fire.
	SkippedHourShift
	// SkippedHourSkip does not fire skipped wall-clock times.
	SkippedHourSkip
)

var skippedHourNames = names{"", "SHIFT", "SKIP"}

// ParseSkippedHour returns the skipped-hour policy whose text is s ("" is SkippedHourDefault).
func ParseSkippedHour(s string) (SkippedHour, error) {
	v, err := skippedHourNames.parse("skipped-hour", s)
	return SkippedHour(v), err
}

// Valid reports whether p is one of the constants.
func (p SkippedHour) Valid() bool { return int(p) < len(skippedHourNames) }

// String returns p's text, "DEFAULT" for SkippedHourDefault.
func (p SkippedHour) String() string {
	return skippedHourNames.str("SkippedHour", "DEFAULT", uint8(p))
}

// MarshalText returns p's text; an unknown p is an error.
func (p SkippedHour) MarshalText() ([]byte, error) {
	s, err := skippedHourNames.text("skipped-hour", uint8(p))
	return []byte(s), err
}

// UnmarshalText sets p from its text; an unknown text is an error.
func (p *SkippedHour) UnmarshalText(b []byte) error {
	v, err := ParseSkippedHour(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// AfterBlackout says what a cron trigger does when a blackout window (internal/calendars) that
// covered some of its fires ends. Its text (triggers.after_blackout) is the proto enum's name
// without the AFTER_BLACKOUT_POLICY_ prefix; the zero value, AfterBlackoutUnspecified, is "".
type AfterBlackout uint8

const (
	// AfterBlackoutUnspecified is an unset policy: DefaultAfterBlackout applies (OrDefault).
	AfterBlackoutUnspecified AfterBlackout = iota
	// AfterBlackoutDrop fires nothing for the covered times.
	AfterBlackoutDrop
	// AfterBlackoutFireOnce fires once at the window's end, for the latest covered time.
	AfterBlackoutFireOnce
)

// DefaultAfterBlackout is the after-blackout policy of a cron trigger that names none.
const DefaultAfterBlackout = AfterBlackoutDrop

var afterBlackoutNames = names{"", "DROP", "FIRE_ONCE"}

// ParseAfterBlackout returns the after-blackout policy whose text is s ("" is
// AfterBlackoutUnspecified).
func ParseAfterBlackout(s string) (AfterBlackout, error) {
	v, err := afterBlackoutNames.parse("after-blackout", s)
	return AfterBlackout(v), err
}

// OrDefault returns p, or DefaultAfterBlackout when p is AfterBlackoutUnspecified.
func (p AfterBlackout) OrDefault() AfterBlackout {
	if p == AfterBlackoutUnspecified {
		return DefaultAfterBlackout
	}
	return p
}

// Valid reports whether p is one of the constants (AfterBlackoutUnspecified included).
func (p AfterBlackout) Valid() bool { return int(p) < len(afterBlackoutNames) }

// String returns p's text, "UNSPECIFIED" for AfterBlackoutUnspecified.
func (p AfterBlackout) String() string {
	return afterBlackoutNames.str("AfterBlackout", "UNSPECIFIED", uint8(p))
}

// MarshalText returns p's text; an unknown p is an error.
func (p AfterBlackout) MarshalText() ([]byte, error) {
	s, err := afterBlackoutNames.text("after-blackout", uint8(p))
	return []byte(s), err
}

// UnmarshalText sets p from its text; an unknown text is an error.
func (p *AfterBlackout) UnmarshalText(b []byte) error {
	v, err := ParseAfterBlackout(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
