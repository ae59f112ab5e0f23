package scheduler

import (
	"sync"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// deploymentCache holds the deployment of every workflow the scheduler fires, so that a fire
// reads no database. The resyncs fill it; a change notification invalidates its workflow at
// once (a fire then reads the database until the resync of that workflow refills it).
//
// A read from the database may race with an invalidation: the read began before the change
// and returns the old deployment after the notification dropped it. So every put carries the
// sequence number taken before its read (seq), and an entry invalidated after that is not
// overwritten: put(wf, d, seq) stores d only when wf was not invalidated since seq.
//
// Each entry is marked with the epoch it was put in: keepOnly drops the entries of older ones.
// The deployments are held in a table keyed by their own workflow id (a million of them cost
// 16 to 32 MB there, against 50 to 80 in a map); the workflows known to have none in a map.
type deploymentCache struct {
	mu      sync.Mutex
	entries *table[deployments.Deployment]
	none    map[string]uint32 // workflows that have no deployment → epoch
	counter uint64            // invalidations so far
	invalid map[string]uint64 // workflow → counter at its last invalidation
	epoch   uint32            // of the full resync in progress or last done
}

func newDeploymentCache() deploymentCache {
	return deploymentCache{
		entries: newTable(func(d *deployments.Deployment) string { return d.WorkflowID }),
		none:    map[string]uint32{},
		invalid: map[string]uint64{},
	}
}

// seq is the sequence number to take before a read whose result is put.
func (c *deploymentCache) seq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counter
}

// get returns the cached deployment of workflowID (nil: it has none) and whether there is an
// entry.
func (c *deploymentCache) get(workflowID string) (*deployments.Deployment, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, _ := c.entries.get(workflowID); d != nil {
		return d, true
	}
	_, ok := c.none[workflowID]
	return nil, ok
}

// put stores d (nil: no deployment) unless workflowID was invalidated after seq.
func (c *deploymentCache) put(workflowID string, d *deployments.Deployment, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(workflowID, d, seq, c.epoch)
}

// putMarked is put by the full resync of epoch (beginEpoch).
func (c *deploymentCache) putMarked(workflowID string, d *deployments.Deployment, seq uint64, epoch uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(workflowID, d, seq, epoch)
}

func (c *deploymentCache) putLocked(workflowID string, d *deployments.Deployment, seq uint64, epoch uint32) {
	if len(c.invalid) > 0 && c.invalid[workflowID] > seq {
		return
	}
	if d == nil || d.WorkflowID != workflowID {
		// None (a deployment of another workflow is not this one's either).
		c.entries.delete(workflowID)
		c.none[workflowID] = epoch
		return
	}
	delete(c.none, workflowID)
	c.entries.put(d, epoch)
}

// beginEpoch starts a full resync: the epoch its puts are marked with (putMarked) and its
// keepOnly keeps.
func (c *deploymentCache) beginEpoch() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	return c.epoch
}

// invalidate drops workflowID's entry; reads that began before are not stored.
func (c *deploymentCache) invalidate(workflowID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counter++
	c.invalid[workflowID] = c.counter
	c.entries.delete(workflowID)
	delete(c.none, workflowID)
}

// keepOnly drops the entries put before the full resync of epoch began (after it: their
// workflows are no longer deployed; a fire of one reads the database).
func (c *deploymentCache) keepOnly(epoch uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stale []string
	c.entries.all(func(d *deployments.Deployment, mark uint32) {
		if mark != epoch {
			stale = append(stale, d.WorkflowID)
		}
	})
	for _, wf := range stale {
		c.entries.delete(wf)
	}
	for wf, e := range c.none {
		if e != epoch {
			delete(c.none, wf)
		}
	}
}
