package execution

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// revisionCache keeps definitions by (workflow, revision). Revisions are immutable, so entries
// never go stale; the cache only bounds its size.
type revisionCache struct {
	mu    sync.Mutex
	limit int
	defs  map[string]*deployments.Definition
}

func newRevisionCache(limit int) *revisionCache {
	return &revisionCache{limit: limit, defs: map[string]*deployments.Definition{}}
}

func (c *revisionCache) get(ctx context.Context, store RevisionStore, workflowID string, revision int32) (*deployments.Definition, error) {
	key := fmt.Sprintf("%s@%d", workflowID, revision)
	c.mu.Lock()
	d, ok := c.defs[key]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := store.RevisionGet(ctx, workflowID, revision)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.defs) >= c.limit {
		for k := range c.defs { // evict an arbitrary entry
			delete(c.defs, k)
			break
		}
	}
	c.defs[key] = d
	c.mu.Unlock()
	return d, nil
}

// configCache keeps each workflow's deployment config for ttl: a worker reads the overlap
// policy, timeout and retry policy of every execution it runs, and they rarely change. A change
// reaches the workers within ttl.
type configCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	entries map[string]configEntry
}

type configEntry struct {
	cfg     *deployments.Config
	fetched time.Time
}

func newConfigCache(ttl time.Duration, now func() time.Time) *configCache {
	return &configCache{ttl: ttl, now: now, entries: map[string]configEntry{}}
}

func (c *configCache) get(ctx context.Context, store RevisionStore, workflowID string) (*deployments.Config, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[workflowID]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl {
		return e.cfg, nil
	}
	d, err := store.DeploymentGetByWorkflow(ctx, workflowID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) > 10000 {
		clear(c.entries)
	}
	c.entries[workflowID] = configEntry{cfg: &d.Config, fetched: now}
	c.mu.Unlock()
	return &d.Config, nil
}

// RevisionStore reads what the worker's caches keep: a revision's definition and a workflow's
// deployment (its config).
type RevisionStore interface {
	// RevisionGet returns the definition of one revision of a workflow.
	RevisionGet(ctx context.Context, workflowID string, revision int32) (*deployments.Definition, error)
	// DeploymentGetByWorkflow returns the deployment of a workflow id.
	DeploymentGetByWorkflow(ctx context.Context, workflowID string) (*deployments.Deployment, error)
}
