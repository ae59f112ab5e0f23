package cron

import (
	"fmt"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// DefaultMaxCatchUpFires caps the fires one trigger's catch-up makes when MisfireParams says
// nothing: a scheduler down for a day must not start 86,400 executions of an every-second cron.
const DefaultMaxCatchUpFires = 1000

// DefaultMaxMissed caps the MISSED records one trigger's catch-up lists when MisfireParams says
// nothing.
const DefaultMaxMissed = 1000

// MisfireParams is what PlanMisfires needs besides the trigger.
type MisfireParams struct {
	// LastFire is the scheduled time of the trigger's last fire on record. Zero: the trigger never
	// fired, so it missed nothing.
	LastFire time.Time
	// Now is the time of the plan. A fire scheduled exactly at Now is part of the plan; the
	// scheduler goes on with the trigger's NextFireTime(Now).
	Now time.Time
	// Until, when set and before Now, ends the plan there: only (LastFire, Until] is planned,
	// the window still measured from Now. The scheduler settles a store outage this way: the
	// times after the last failed fire are the live fires' to make. Zero: Now.
	Until time.Time
	// CatchUpWindow is how old a missed fire may be and still run: a fire scheduled at or after
	// Now-CatchUpWindow is inside. Negative is an error.
	CatchUpWindow time.Duration
	// Policy says which of the fires inside the window run. Default: policy.DefaultMisfire
	// (MisfireUnspecified is resolved by OrDefault, as for a deployment that names none).
	Policy policy.Misfire
	// MaxFires caps Fire. Default: DefaultMaxCatchUpFires.
	MaxFires int
	// MaxMissed caps Missed. Default: DefaultMaxMissed.
	MaxMissed int
}

// MisfirePlan is what to do about the fires a trigger missed: every scheduled time in
// (LastFire, Until or Now] is in exactly one of Fire, Missed or (only when a cap was hit) neither.
type MisfirePlan struct {
	// Fire are the fires to run now, oldest first.
	Fire []Fire
	// Missed are the fires to record as MISSED (outside the window, dropped by the policy or by
	// the cap), oldest first.
	Missed []Fire
	// FiresCapped says more fires were due inside the window than MaxFires: the latest MaxFires
	// are in Fire, the older ones count as missed.
	FiresCapped bool
	// MissedTruncated says more fires were missed than MaxMissed: Missed holds the oldest ones,
	// the rest (between the last of Missed and the first of Fire) are not listed.
	MissedTruncated bool
}

// PlanMisfires decides, for a scheduler that starts (again) at p.Now, which of the fires t missed
// since p.LastFire to run and which to record as MISSED. It is pure; its work is bounded by the
// caps, not by how long the scheduler was down.
//
// FIRE_ALL runs every missed fire inside the catch-up window (the latest MaxFires of them);
// FIRE_ONCE runs only the latest one, if it is inside the window; SKIP runs none.
func PlanMisfires(t *Trigger, p MisfireParams) (MisfirePlan, error) {
	if p.CatchUpWindow < 0 {
		return MisfirePlan{}, fmt.Errorf("plan misfires: catch-up window %s is negative", p.CatchUpWindow)
	}
	if !p.Policy.Valid() {
		return MisfirePlan{}, fmt.Errorf("plan misfires: unknown misfire policy %s", p.Policy)
	}
	misfire := p.Policy.OrDefault()
	maxFires := p.MaxFires
	if maxFires <= 0 {
		maxFires = DefaultMaxCatchUpFires
	}
	maxMissed := p.MaxMissed
	if maxMissed <= 0 {
		maxMissed = DefaultMaxMissed
	}
	var plan MisfirePlan
	hi := p.Now
	if !p.Until.IsZero() && p.Until.Before(hi) {
		hi = p.Until
	}
	if p.LastFire.IsZero() || !hi.After(p.LastFire) {
		return plan, nil
	}
	// Most plans (a restart, a deploy) hold no time at all: one Next says so. An error is left
	// to the walk below, which reports it.
	if first, err := t.Next(p.LastFire); err == nil && first.Scheduled.After(hi) {
		return plan, nil
	}

	// The fires to run are always the latest ones up to Now: find them without walking the
	// whole outage.
	want := 0
	switch misfire {
	case policy.MisfireFireAll:
		want = maxFires + 1 // one more tells whether the cap was hit
	case policy.MisfireFireOnce:
		want = 1
	}
	// Inside the window: scheduled >= Now-window, i.e. > Now-window-1ns, and > LastFire.
	lo := p.Now.Add(-p.CatchUpWindow - time.Nanosecond)
	if lo.Before(p.LastFire) {
		lo = p.LastFire
	}
	if want > 0 && hi.After(lo) {
		fires, err := t.latest(want, lo, hi)
		if err != nil {
			return MisfirePlan{}, fmt.Errorf("plan misfires: %w", err)
		}
		if len(fires) > maxFires {
			fires = fires[len(fires)-maxFires:]
			plan.FiresCapped = true
		}
		plan.Fire = fires
	}

	// Everything before the first fire to run is missed.
	until := hi
	if len(plan.Fire) > 0 {
		until = plan.Fire[0].Scheduled.Add(-time.Nanosecond)
	}
	err := t.each(p.LastFire, until, func(f Fire) bool {
		if len(plan.Missed) == maxMissed {
			plan.MissedTruncated = true
			return false
		}
		plan.Missed = append(plan.Missed, f)
		return true
	})
	if err != nil {
		return MisfirePlan{}, fmt.Errorf("plan misfires: %w", err)
	}
	return plan, nil
}

// latest returns the latest k fires whose scheduled time is in (lo, hi], oldest first. It looks
// back from hi over a span that doubles until it holds k fires or reaches lo, so its work is
// proportional to k (and to the schedule's density), not to hi-lo.
func (t *Trigger) latest(k int, lo, hi time.Time) ([]Fire, error) {
	span := time.Minute
	for {
		start, reachedLo := hi.Add(-span), span >= hi.Sub(lo)
		if reachedLo {
			start = lo
		}
		ring := make([]Fire, 0, k)
		n := 0
		err := t.each(start, hi, func(f Fire) bool {
			if len(ring) < k {
				ring = append(ring, f)
			} else {
				ring[n%k] = f
			}
			n++
			return true
		})
		if err != nil {
			return nil, err
		}
		if n >= k || reachedLo {
			if n > k { // rotate the ring so the oldest comes first
				i := n % k
				ring = append(ring[i:], ring[:i]...)
			}
			return ring, nil
		}
		span *= 2
	}
}
