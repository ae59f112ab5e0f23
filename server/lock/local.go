package lock

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
)

// LocalConfig configures a LocalManager.
type LocalConfig struct {
	// Now tells the time; leases expire by it (default time.Now). Tests pass a fake clock.
	Now func() time.Time
}

// LocalManager is a Manager inside one process, for the embedded mode: a map under a mutex.
// Expired leases are noticed when their key is next touched. The fencing counter of a key is
// kept after release and expiry, like Redis's fence key.
type LocalManager struct {
	now func() time.Time

	mu     sync.Mutex
	held   map[string]localLease // key -> current holder (possibly expired)
	fences map[string]int64      // key -> last fencing token handed out
}

type localLease struct {
	owner   string
	expires time.Time
}

var _ Manager = (*LocalManager)(nil)

// NewLocalManager returns an empty LocalManager.
func NewLocalManager(cfg LocalConfig) *LocalManager {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &LocalManager{now: now, held: map[string]localLease{}, fences: map[string]int64{}}
}

// Acquire implements Manager.
func (m *LocalManager) Acquire(ctx context.Context, key string, ttl time.Duration) (*Lease, error) {
	if err := validate(key, ttl); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if cur, ok := m.held[key]; ok && now.Before(cur.expires) {
		return nil, ErrNotAcquired
	}
	m.fences[key]++
	l := &Lease{Key: key, Owner: uuid.NewString(), Fence: m.fences[key], TTL: ttl}
	m.held[key] = localLease{owner: l.Owner, expires: now.Add(ttl)}
	return l, nil
}

// Extend implements Manager.
func (m *LocalManager) Extend(ctx context.Context, l *Lease, ttl time.Duration) error {
	if l == nil {
		return errors.New("lock: nil lease")
	}
	if err := validate(l.Key, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if !m.holds(l, now) {
		return ErrLost
	}
	m.held[l.Key] = localLease{owner: l.Owner, expires: now.Add(ttl)}
	return nil
}

// Release implements Manager.
func (m *LocalManager) Release(ctx context.Context, l *Lease) error {
	if l == nil {
		return errors.New("lock: nil lease")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.holds(l, m.now()) {
		return ErrLost
	}
	delete(m.held, l.Key)
	return nil
}

// holds reports whether l is the live holding of its key; it forgets an expired holding.
// m.mu must be held.
func (m *LocalManager) holds(l *Lease, now time.Time) bool {
	cur, ok := m.held[l.Key]
	if !ok {
		return false
	}
	if !now.Before(cur.expires) {
		delete(m.held, l.Key)
		return false
	}
	return cur.owner == l.Owner
}
