package schedulehealth

import (
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
)

// owedCache remembers, per trigger and last settled point, how far the owed times were
// counted, so that the next evaluation only counts the times that came since: a trigger left
// without a scheduler for a day costs its 86,400 Next calls once, then a few per evaluation.
// Entries no full evaluation saw are dropped at its end. Safe for concurrent use.
type owedCache struct {
	mu      sync.Mutex
	entries map[owedKey]*owedEntry
	gen     uint64 // the current full evaluation
}

// owedKey names a count: the trigger as built (its description holds the expression, zone,
// jitter offset and DST policies) and where the count starts.
type owedKey struct {
	workflowID, trigger string
	after               int64
}

// owedEntry is a count of (after, until): n times, the first and the last.
type owedEntry struct {
	until, oldest, newest time.Time
	n                     int64
	gen                   uint64
}

func newOwedCache() *owedCache {
	return &owedCache{entries: map[owedKey]*owedEntry{}}
}

// begin starts a full evaluation: entries it does not touch are dropped by end.
func (c *owedCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	return c.gen
}

// end drops the entries the full evaluation gen did not touch.
func (c *owedCache) end(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.gen < gen {
			delete(c.entries, k)
		}
	}
}

// count is owed, going on from the cached count when there is one of an earlier until.
func (c *owedCache) count(trig *cron.Trigger, after, until time.Time) (int64, time.Time, time.Time) {
	if after.IsZero() || !until.After(after) {
		return 0, time.Time{}, time.Time{}
	}
	k := owedKey{workflowID: trig.WorkflowID(), trigger: trig.Description(), after: after.UnixNano()}
	c.mu.Lock()
	prev, ok := c.entries[k]
	gen := c.gen
	c.mu.Unlock()
	var n int64
	var oldest, newest time.Time
	if ok && !until.Before(prev.until) {
		n, oldest, newest = owedFrom(trig, after, until, prev.n, prev.oldest, prev.newest)
	} else {
		n, oldest, newest = owed(trig, after, until)
	}
	if ok && until.Before(prev.until) {
		return n, oldest, newest // an older clock: keep the further count
	}
	c.mu.Lock()
	c.entries[k] = &owedEntry{until: until, oldest: oldest, newest: newest, n: n, gen: gen}
	c.mu.Unlock()
	return n, oldest, newest
}

// size is the number of entries (tests).
func (c *owedCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
