// Package waitlist holds, per workflow, the executions buffered behind a running one (overlap
// policies BUFFER_ONE, BUFFER_ALL and CANCEL_OTHER). Push is atomic with its capacity check, so
// BUFFER_ONE never holds two, whatever the number of workers; an id pushed twice is held once.
// The list is only a wake-up order: a buffered execution stays PENDING in the database, and the
// execution sweeper enqueues it should its entry be lost.
package waitlist

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Redis keeps one list per workflow under Prefix+"waitlist:"+workflowID.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Redis waitlist; prefix namespaces its keys (default "wfr:").
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "wfr:"
	}
	return &Redis{client: client, prefix: prefix}
}

// pushScript appends or prepends an id unless it is held already or the list is full.
//
// KEYS[1]: the workflow's list.
// ARGV[1]: the execution id.
// ARGV[2]: capacity; 0 means none.
// ARGV[3]: "1" to put the id first, "0" to put it last.
// Returns 1 when the id is in the list afterwards, 0 when the list was full.
var pushScript = redis.NewScript(`
if redis.call('LPOS', KEYS[1], ARGV[1]) then
  return 1
end
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('LLEN', KEYS[1]) >= limit then
  return 0
end
if ARGV[3] == '1' then
  redis.call('LPUSH', KEYS[1], ARGV[1])
else
  redis.call('RPUSH', KEYS[1], ARGV[1])
end
return 1
`)

// Push implements execution.Waitlist.
func (r *Redis) Push(ctx context.Context, workflowID, id string, limit int, front bool) (bool, error) {
	f := "0"
	if front {
		f = "1"
	}
	n, err := pushScript.Run(ctx, r.client, []string{r.key(workflowID)}, id, limit, f).Int()
	if err != nil {
		return false, fmt.Errorf("push %s to waitlist of %s: %w", id, workflowID, err)
	}
	return n == 1, nil
}

// Pop implements execution.Waitlist.
func (r *Redis) Pop(ctx context.Context, workflowID string) (string, bool, error) {
	id, err := r.client.LPop(ctx, r.key(workflowID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("pop waitlist of %s: %w", workflowID, err)
	}
	return id, true, nil
}

// Len returns how many executions wait for the workflow.
func (r *Redis) Len(ctx context.Context, workflowID string) (int, error) {
	n, err := r.client.LLen(ctx, r.key(workflowID)).Result()
	return int(n), err
}

// List returns the waiting executions, first first.
func (r *Redis) List(ctx context.Context, workflowID string) ([]string, error) {
	ids, err := r.client.LRange(ctx, r.key(workflowID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list waitlist of %s: %w", workflowID, err)
	}
	return ids, nil
}

func (r *Redis) key(workflowID string) string { return r.prefix + "waitlist:" + workflowID }

// Local is the in-process waitlist of the embedded mode.
type Local struct {
	mu    sync.Mutex
	lists map[string][]string
}

// NewLocal returns an empty Local waitlist.
func NewLocal() *Local { return &Local{lists: map[string][]string{}} }

// Push implements execution.Waitlist.
func (l *Local) Push(_ context.Context, workflowID, id string, limit int, front bool) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.lists[workflowID]
	if slices.Contains(list, id) {
		return true, nil
	}
	if limit > 0 && len(list) >= limit {
		return false, nil
	}
	if front {
		list = append([]string{id}, list...)
	} else {
		list = append(list, id)
	}
	l.lists[workflowID] = list
	return true, nil
}

// Pop implements execution.Waitlist.
func (l *Local) Pop(_ context.Context, workflowID string) (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.lists[workflowID]
	if len(list) == 0 {
		return "", false, nil
	}
	id := list[0]
	if len(list) == 1 {
		delete(l.lists, workflowID)
	} else {
		l.lists[workflowID] = list[1:]
	}
	return id, true, nil
}

// Len returns how many executions wait for the workflow.
func (l *Local) Len(_ context.Context, workflowID string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lists[workflowID]), nil
}

// List returns the waiting executions, first first.
func (l *Local) List(_ context.Context, workflowID string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lists[workflowID]), nil
}
