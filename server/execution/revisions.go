package execution

import (
	"context"
	"fmt"
	"sync"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
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

func (c *revisionCache) get(ctx context.Context, store Store, workflowID string, revision int32) (*deployments.Definition, error) {
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
