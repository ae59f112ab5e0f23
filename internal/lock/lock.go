package lock

import (
	"context"
	"errors"
	"time"
)

// ErrNotAcquired is returned by Manager.Acquire when the key is held by another owner.
var ErrNotAcquired = errors.New("lock: not acquired, held by another owner")

// ErrLost is returned by Manager.Extend and Manager.Release when the lease is no longer held by
// its owner: it expired, or it expired and another owner took the key. It is also the cause of
// the context Hold cancels.
var ErrLost = errors.New("lock: lease lost")

// Lease is one holding of a key. It is returned by Manager.Acquire and handed back to Extend and
// Release; its fields are read-only (Extend does not change them), so a Lease may be read by
// several goroutines, including the one Hold starts.
type Lease struct {
	// Key is the name that was locked, typically a workflow id.
	Key string
	// Owner is a random token that identifies this holding; only the holder of the token can
	// extend or release the lease.
	Owner string
	// Fence is the fencing token: strictly greater than the Fence of every earlier lease of Key
	// (across releases and expiries). Writes guarded by the lease carry it, and the store refuses
	// a write whose fence is lower than the one it has seen.
	Fence int64
	// TTL is the time to live the lease was acquired with; Hold renews it by this much.
	TTL time.Duration
	// Acquired is this process's clock (with its monotonic reading) just before the request
	// that took the lease was sent: the lease cannot have started earlier, so Acquired + TTL is
	// a deadline it cannot outlive without a renewal, whatever the process did in between.
	Acquired time.Time
}

// Manager takes and keeps exclusive, expiring leases on keys. RedisManager shares them between
// processes; LocalManager inside one process. Both pass the locktest contract suite.
type Manager interface {
	// Acquire takes key for ttl if it is free. It returns ErrNotAcquired when another owner
	// holds key. Every success gets a fencing token strictly greater than every earlier one for
	// that key.
	Acquire(ctx context.Context, key string, ttl time.Duration) (*Lease, error)
	// Extend renews the lease for ttl from now. It returns ErrLost when the lease is no longer
	// held by its owner (expired, or taken by another owner).
	Extend(ctx context.Context, l *Lease, ttl time.Duration) error
	// Release frees the lease. It returns ErrLost when the lease is not held by its owner: a
	// release by a non-owner is refused and changes nothing.
	Release(ctx context.Context, l *Lease) error
	// AcquireMany is Acquire for several keys in one round trip: leases[i] and errs[i] answer
	// keys[i] as Acquire(keys[i]) would have (errs[i] is ErrNotAcquired when another owner
	// holds it). A key named twice is acquired at most once.
	AcquireMany(ctx context.Context, keys []string, ttl time.Duration) (leases []*Lease, errs []error)
	// ReleaseMany is Release for several leases in one round trip: errs[i] answers ls[i] as
	// Release(ls[i]) would have.
	ReleaseMany(ctx context.Context, ls []*Lease) (errs []error)
}

// validate checks the arguments shared by every backend.
func validate(key string, ttl time.Duration) error {
	if key == "" {
		return errors.New("lock: empty key")
	}
	if ttl < time.Millisecond {
		return errors.New("lock: ttl must be at least 1ms")
	}
	return nil
}
