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
// Expired leases are noticed when their key is next touched. Fencing tokens come from one
// counter for all keys that never falls behind the clock in microseconds, so tokens keep
// growing across a restart of the process (executions in the database keep their tokens) and
// no per-key state outlives its lease.
type LocalManager struct {
	now func() time.Time

	mu   sync.Mutex
	held map[string]localLease // key -> current holder (possibly expired)
	last int64                 // the last fencing token handed out
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
	return &LocalManager{now: now, held: map[string]localLease{}}
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
	return m.acquire(key, ttl, m.now())
}

// acquire is Acquire of a valid key and ttl at now. m.mu must be held.
func (m *LocalManager) acquire(key string, ttl time.Duration, now time.Time) (*Lease, error) {
	if cur, ok := m.held[key]; ok && now.Before(cur.expires) {
		return nil, ErrNotAcquired
	}
	m.last = max(m.last+1, now.UnixMicro())
	l := &Lease{Key: key, Owner: uuid.NewString(), Fence: m.last, TTL: ttl, Acquired: time.Now()}
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
	return m.release(l, m.now())
}

// release is Release of a non-nil lease at now. m.mu must be held.
func (m *LocalManager) release(l *Lease, now time.Time) error {
	if !m.holds(l, now) {
		return ErrLost
	}
	delete(m.held, l.Key)
	return nil
}

// AcquireMany implements Manager: Acquire of each key in order, all under one hold of the
// mutex and at one instant.
func (m *LocalManager) AcquireMany(ctx context.Context, keys []string, ttl time.Duration) ([]*Lease, []error) {
	leases := make([]*Lease, len(keys))
	errs := make([]error, len(keys))
	if len(keys) == 0 {
		return leases, errs
	}
	ctxErr := ctx.Err()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for i, key := range keys {
		switch err := validate(key, ttl); {
		case err != nil:
			errs[i] = err
		case ctxErr != nil:
			errs[i] = ctxErr
		default:
			leases[i], errs[i] = m.acquire(key, ttl, now)
		}
	}
	return leases, errs
}

// ReleaseMany implements Manager: Release of each lease in order, all under one hold of the
// mutex and at one instant.
func (m *LocalManager) ReleaseMany(ctx context.Context, ls []*Lease) []error {
	errs := make([]error, len(ls))
	if len(ls) == 0 {
		return errs
	}
	ctxErr := ctx.Err()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for i, l := range ls {
		switch {
		case l == nil:
			errs[i] = errors.New("lock: nil lease")
		case ctxErr != nil:
			errs[i] = ctxErr
		default:
			errs[i] = m.release(l, now)
		}
	}
	return errs
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
