package telemetry

import "time"

// SetClock makes a read the time from now (a test's controllable clock).
func (a *AccessLog) SetClock(now func() time.Time) { a.now = now }
