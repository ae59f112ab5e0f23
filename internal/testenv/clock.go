package testenv

import (
	"sync"
	"time"
)

// FakeClock is a clock for backends that tell the time through a Now function (the in-process
// lock and queue): the contract suites move it forward instead of sleeping.
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

// Advance sleeps d. Suites only sleep to let "at least d" pass; waits for something to happen
// poll with a bound instead.
func (RealClock) Advance(d time.Duration) { time.Sleep(d) }
