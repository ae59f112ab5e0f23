package scheduler

import (
	"sync"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
)

// deploymentCache holds the deployment of every workflow the scheduler fires, so that a fire
// reads no database. The resyncs fill it; a change notification invalidates its workflow at
// once (a fire then reads the database until the resync of that workflow refills it).
//
// A read from the database may race with an invalidation: the read began before the change
// and returns the old deployment after the notification dropped it. So every put carries the
// sequence number taken before its read (seq), and an entry invalidated after that is not
// overwritten: put(wf, d, seq) stores d only when wf was not invalidated since seq.
type deploymentCache struct {
	mu      sync.Mutex
	entries map[string]*deployments.Deployment // nil value: the workflow has no deployment
	counter uint64                             // invalidations so far
	invalid map[string]uint64                  // workflow → counter at its last invalidation
}

func newDeploymentCache() deploymentCache {
	return deploymentCache{entries: map[string]*deployments.Deployment{}, invalid: map[string]uint64{}}
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
	d, ok := c.entries[workflowID]
	return d, ok
}

// put stores d (nil: no deployment) unless workflowID was invalidated after seq.
func (c *deploymentCache) put(workflowID string, d *deployments.Deployment, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.invalid[workflowID] > seq {
		return
	}
	c.entries[workflowID] = d
}

// invalidate drops workflowID's entry; reads that began before are not stored.
func (c *deploymentCache) invalidate(workflowID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counter++
	c.invalid[workflowID] = c.counter
	delete(c.entries, workflowID)
}

// keepOnly drops the entries of the workflows not in keep (after a full resync: they are no
// longer deployed; a fire of one reads the database).
func (c *deploymentCache) keepOnly(keep map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for wf := range c.entries {
		if !keep[wf] {
			delete(c.entries, wf)
		}
	}
}
