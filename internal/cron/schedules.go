package cron

import (
	"errors"
	"runtime"
	"sync"
	"weak"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Schedules builds triggers that share their schedule (the parsed expression, the zone, the
// jitter window and the DST policies) with every other live trigger it built from the same
// configuration, so that a million workflows on a handful of expressions hold a handful of
// parsed expressions, not a million (go-quartz's parsed fields alone are some 500 bytes). A
// schedule no trigger uses any more is collected; Schedules only points at it weakly. The zero
// value is ready to use; it is safe for concurrent use.
type Schedules struct {
	mu sync.Mutex
	m  map[scheduleKey]weak.Pointer[schedule]
}

// scheduleKey is what a schedule is built from: TriggerConfig without the workflow.
type scheduleKey struct {
	expression string
	timeZone   string
	window     int64 // -1: unset (the default window)
	repeated   policy.RepeatedHour
	skipped    policy.SkippedHour
}

// Trigger validates cfg and builds its trigger, as NewTrigger does, sharing the schedule of a
// live trigger built from the same configuration.
func (s *Schedules) Trigger(cfg TriggerConfig) (*Trigger, error) {
	t, err := s.Make(cfg)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// Make is Trigger returning the trigger itself, for a caller that keeps it inside an allocation
// of its own (a Trigger is immutable: a copy is the same trigger).
func (s *Schedules) Make(cfg TriggerConfig) (Trigger, error) {
	if cfg.WorkflowID == "" {
		return Trigger{}, errors.New("new trigger: workflow id is empty")
	}
	key := scheduleKey{expression: cfg.Expression, timeZone: cfg.TimeZone, window: -1, repeated: cfg.RepeatedHour, skipped: cfg.SkippedHour}
	if cfg.JitterWindowSeconds != nil {
		key.window = int64(*cfg.JitterWindowSeconds)
	}
	s.mu.Lock()
	sc := s.m[key].Value()
	s.mu.Unlock()
	if sc != nil {
		return sc.trigger(cfg.WorkflowID), nil
	}
	// Built outside the lock: two callers may both build it, and the second keeps the first's.
	sc, err := newSchedule(cfg)
	if err != nil {
		return Trigger{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.m[key].Value(); cur != nil {
		return cur.trigger(cfg.WorkflowID), nil
	}
	if s.m == nil {
		s.m = map[scheduleKey]weak.Pointer[schedule]{}
	}
	s.m[key] = weak.Make(sc)
	runtime.AddCleanup(sc, s.forget, key)
	return sc.trigger(cfg.WorkflowID), nil
}

// forget drops the entry of a collected schedule (unless a new one took its place).
func (s *Schedules) forget(key scheduleKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key].Value() == nil {
		delete(s.m, key)
	}
}

// Len returns the number of schedules held (a collected one may count until its cleanup ran).
func (s *Schedules) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
