package lock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a RedisManager.
type RedisConfig struct {
	// Prefix is put in front of every key the manager writes, e.g. "wfr:" (default "wfr:").
	// It must not contain '{' or '}': the keys use a hash tag so that a key's lock and fence live
	// in one Redis Cluster slot.
	Prefix string
}

// RedisManager is a Manager on Redis (standalone, Sentinel or Cluster through
// redis.UniversalClient). For a key k it keeps two Redis keys:
//
//	<prefix>lock:{k}   the owner token, with the lease's TTL (PX)
//	<prefix>fence:{k}  the last fencing token handed out for k, without TTL
//
// Each operation is one Lua script, so one round trip and atomic.
type RedisManager struct {
	client redis.UniversalClient
	prefix string
}

var _ Manager = (*RedisManager)(nil)

// NewRedisManager returns a RedisManager that uses client.
func NewRedisManager(client redis.UniversalClient, cfg RedisConfig) *RedisManager {
	return &RedisManager{client: client, prefix: cmp.Or(cfg.Prefix, "wfr:")}
}

// acquireScript takes the lock if it is free and hands out the next fencing token, together:
// a fence is never consumed without a lease, and a lease never exists without its fence.
//
// The token never falls behind Redis's clock in microseconds: when the counter is lost (Redis
// restarted without persistence) or has expired, tokens still grow past every one handed out
// before, which executions keep in the database. So the counter can expire with its lock's
// key space (a fence key per execution would otherwise stay forever).
//
// KEYS[1] -> <prefix>lock:{key}
// KEYS[2] -> <prefix>fence:{key}
// ARGV[1] -> owner token
// ARGV[2] -> ttl in milliseconds
// ARGV[3] -> how long the counter outlives its last use, in milliseconds
//
// Returns the new fencing token (>= 1) when the lock was taken, 0 when another owner holds it.
var acquireScript = redis.NewScript(`
if not redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
	return 0
end
local t = redis.call("TIME")
local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
local fence = redis.call("INCR", KEYS[2])
if fence < floor then
	fence = floor
	redis.call("SET", KEYS[2], string.format("%d", fence))
end
redis.call("PEXPIRE", KEYS[2], ARGV[3])
return fence
`)

// fenceTTL is how long a fence counter outlives its last acquisition: far longer than any
// lease, so that a key's tokens only ever grow by one while it is in use.
const fenceTTL = 24 * time.Hour

// releaseScript deletes the lock only if it still belongs to the caller (compare-and-delete):
// a plain DEL after the lease expired would free a lock another owner has taken since.
//
// KEYS[1] -> <prefix>lock:{key}
// ARGV[1] -> owner token
//
// Returns 1 when the lock was deleted, 0 when it is not held by this owner.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// extendScript renews the lock's TTL only if it still belongs to the caller
// (compare-and-pexpire).
//
// KEYS[1] -> <prefix>lock:{key}
// ARGV[1] -> owner token
// ARGV[2] -> ttl in milliseconds
//
// Returns 1 when the TTL was set, 0 when the lock is not held by this owner.
var extendScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
`)

func (m *RedisManager) lockKey(key string) string  { return m.prefix + "lock:{" + key + "}" }
func (m *RedisManager) fenceKey(key string) string { return m.prefix + "fence:{" + key + "}" }

// Acquire implements Manager.
func (m *RedisManager) Acquire(ctx context.Context, key string, ttl time.Duration) (*Lease, error) {
	if err := validate(key, ttl); err != nil {
		return nil, err
	}
	owner := uuid.NewString()
	fence, err := acquireScript.Run(ctx, m.client, []string{m.lockKey(key), m.fenceKey(key)}, owner, ttl.Milliseconds(), fenceTTL.Milliseconds()).Int64()
	if err != nil {
		return nil, fmt.Errorf("acquire lock %s: %w", key, err)
	}
	if fence == 0 {
		return nil, ErrNotAcquired
	}
	return &Lease{Key: key, Owner: owner, Fence: fence, TTL: ttl}, nil
}

// Extend implements Manager.
func (m *RedisManager) Extend(ctx context.Context, l *Lease, ttl time.Duration) error {
	if l == nil {
		return errors.New("lock: nil lease")
	}
	if err := validate(l.Key, ttl); err != nil {
		return err
	}
	ok, err := extendScript.Run(ctx, m.client, []string{m.lockKey(l.Key)}, l.Owner, ttl.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("extend lock %s: %w", l.Key, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}

// Release implements Manager.
func (m *RedisManager) Release(ctx context.Context, l *Lease) error {
	if l == nil {
		return errors.New("lock: nil lease")
	}
	ok, err := releaseScript.Run(ctx, m.client, []string{m.lockKey(l.Key)}, l.Owner).Int64()
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.Key, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}
