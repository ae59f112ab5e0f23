package queuetest

import (
	"sync"
	"time"
)

// Clock is a backend's time, as the suite sees it.
type Clock interface {
	// Now is the time the backend goes by.
	Now() time.Time
	// Advance lets at least d pass for the backend.
	Advance(d time.Duration)
}

// FakeClock is a Clock for backends that tell the time through a Now function.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock set to a fixed instant.
func NewFakeClock() *FakeClock {
	return &FakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// RealClock is the wall clock, for backends like Redis whose time cannot be faked.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Advance sleeps d. The suite only sleeps to let "at least d" pass; waits for something to
// happen poll with a bound instead.
func (RealClock) Advance(d time.Duration) { time.Sleep(d) }
