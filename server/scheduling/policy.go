package scheduling

import "fmt"

// RepeatedHourPolicy says how a trigger fires when the clocks go back and a stretch of wall-clock
// time happens twice (in Europe/Berlin on the last Sunday of October 02:00-03:00 is lived once in
// CEST, then again in CET).
type RepeatedHourPolicy int

const (
	// RepeatedHourDefault follows classic cron: ONCE when the hour field is a fixed value
	// ("30 2 * * *"), TWICE when it is a wildcard, range or step ("*/15 * * * *").
	RepeatedHourDefault RepeatedHourPolicy = iota
	// RepeatedHourOnce fires a repeated wall-clock time on its first pass only.
	RepeatedHourOnce
	// RepeatedHourTwice fires a repeated wall-clock time on both passes: by real time.
	RepeatedHourTwice
)

// String names the policy as the proto enum does, without the prefix.
func (p RepeatedHourPolicy) String() string {
	switch p {
	case RepeatedHourDefault:
		return "DEFAULT"
	case RepeatedHourOnce:
		return "ONCE"
	case RepeatedHourTwice:
		return "TWICE"
	default:
		return fmt.Sprintf("RepeatedHourPolicy(%d)", int(p))
	}
}

// SkippedHourPolicy says how a trigger fires when the clocks go forward and a stretch of
// wall-clock time never happens (in America/New_York on the second Sunday of March 02:00-03:00).
type SkippedHourPolicy int

const (
	// SkippedHourDefault follows classic cron: SHIFT when the hour field is a fixed value, SKIP
	// when it is a wildcard, range or step (those run by real time, and the skipped times never
	// came).
	SkippedHourDefault SkippedHourPolicy = iota
	// SkippedHourShift fires a skipped wall-clock time at the first instant after the gap (03:00
	// in New York); several skipped times of one gap make one fire.
	SkippedHourShift
	// SkippedHourSkip does not fire skipped wall-clock times.
	SkippedHourSkip
)

// String names the policy as the proto enum does, without the prefix.
func (p SkippedHourPolicy) String() string {
	switch p {
	case SkippedHourDefault:
		return "DEFAULT"
	case SkippedHourShift:
		return "SHIFT"
	case SkippedHourSkip:
		return "SKIP"
	default:
		return fmt.Sprintf("SkippedHourPolicy(%d)", int(p))
	}
}

// MisfirePolicy says what happens to the fires a trigger missed while no scheduler ran.
type MisfirePolicy int

const (
	// MisfireDefault is MisfireFireAll, the design's rule: fire once per missed time inside the
	// catch-up window, then go on.
	MisfireDefault MisfirePolicy = iota
	// MisfireFireAll fires every missed time inside the catch-up window (up to the cap).
	MisfireFireAll
	// MisfireFireOnce fires only the latest missed time inside the catch-up window.
	MisfireFireOnce
	// MisfireSkip fires none of the missed times.
	MisfireSkip
)

// String names the policy as the proto enum does, without the prefix.
func (p MisfirePolicy) String() string {
	switch p {
	case MisfireDefault:
		return "DEFAULT"
	case MisfireFireAll:
		return "FIRE_ALL"
	case MisfireFireOnce:
		return "FIRE_ONCE"
	case MisfireSkip:
		return "SKIP"
	default:
		return fmt.Sprintf("MisfirePolicy(%d)", int(p))
	}
}
