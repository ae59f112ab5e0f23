package queuetest

import (
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// Clock is a backend's time, as the suite sees it.
type Clock interface {
	// Now is the time the backend goes by.
	Now() time.Time
	// Advance lets at least d pass for the backend.
	Advance(d time.Duration)
}

// FakeClock and RealClock are the shared test clocks.
type (
	FakeClock = testenv.FakeClock
	RealClock = testenv.RealClock
)

// NewFakeClock returns a FakeClock set to a fixed instant.
func NewFakeClock() *FakeClock { return testenv.NewFakeClock() }
