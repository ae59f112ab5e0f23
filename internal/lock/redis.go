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
//	<prefix>fence:{k}  the last fencing token handed out for k, expiring fenceTTL after its last use
//
// Each operation is one Lua script, so one round trip and atomic. AcquireMany and ReleaseMany
// run the same scripts, one per key, in one pipeline: one round trip for the batch, each key
// atomic on its own (the batch is not a transaction).
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
// Returns the new fencing token (>= 1) when the lock was taken, 0 when another owner holds it
// (also when an earlier call in the same AcquireMany pipeline took the key: a key named twice
// is taken once). Run by Acquire, and once per key by AcquireMany; acquireCall builds the
// KEYS and ARGV.
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
// Returns 1 when the lock was deleted, 0 when it is not held by this owner. Run by Release, and
// once per lease by ReleaseMany; releaseCall builds the KEYS and ARGV.
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

// scriptCall is the KEYS and ARGV of one run of a script.
type scriptCall struct {
	keys []string
	args []any
}

// acquireCall is the KEYS and ARGV of acquireScript for key.
func (m *RedisManager) acquireCall(key, owner string, ttl time.Duration) scriptCall {
	return scriptCall{
		keys: []string{m.lockKey(key), m.fenceKey(key)},
		args: []any{owner, ttl.Milliseconds(), fenceTTL.Milliseconds()},
	}
}

// releaseCall is the KEYS and ARGV of releaseScript for l.
func (m *RedisManager) releaseCall(l *Lease) scriptCall {
	return scriptCall{keys: []string{m.lockKey(l.Key)}, args: []any{l.Owner}}
}

// Acquire implements Manager.
func (m *RedisManager) Acquire(ctx context.Context, key string, ttl time.Duration) (*Lease, error) {
	if err := validate(key, ttl); err != nil {
		return nil, err
	}
	owner := uuid.NewString()
	c := m.acquireCall(key, owner, ttl)
	sent := time.Now()
	l, err := acquired(acquireScript.Run(ctx, m.client, c.keys, c.args...), key, owner, ttl, sent)
	if err != nil && !errors.Is(err, ErrNotAcquired) {
		m.forget(ctx, []scriptCall{c})
	}
	return l, err
}

// forgetTimeout bounds forget's round trip.
const forgetTimeout = time.Second

// forget releases, best effort, the leases of acquire calls that got no answer: the script may
// have run and its reply been lost (a connection dropped, or the caller's deadline passed, while
// the reply was on its way). Such a lease would hold its key until its TTL with nobody to
// release it, since its caller was told it did not get it. Its owner token is the call's
// alone, so the compare-and-delete frees nothing else; a call that did not run finds no lease.
// When Redis does not answer this either, the TTL frees the key as before.
func (m *RedisManager) forget(ctx context.Context, acquires []scriptCall) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forgetTimeout)
	defer cancel()
	releases := make([]scriptCall, len(acquires))
	for i, c := range acquires {
		releases[i] = scriptCall{keys: c.keys[:1], args: c.args[:1]} // the lock key, the owner
	}
	m.runMany(ctx, releaseScript, releases)
}

// acquired turns the answer of acquireScript for key into Acquire's results.
func acquired(cmd *redis.Cmd, key, owner string, ttl time.Duration, sent time.Time) (*Lease, error) {
	fence, err := cmd.Int64()
	if err != nil {
		return nil, fmt.Errorf("acquire lock %s: %w", key, err)
	}
	if fence == 0 {
		return nil, ErrNotAcquired
	}
	return &Lease{Key: key, Owner: owner, Fence: fence, TTL: ttl, Acquired: sent}, nil
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
	c := m.releaseCall(l)
	return released(releaseScript.Run(ctx, m.client, c.keys, c.args...), l)
}

// released turns the answer of releaseScript for l into Release's result.
func released(cmd *redis.Cmd, l *Lease) error {
	ok, err := cmd.Int64()
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.Key, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}

// AcquireMany implements Manager: acquireScript once per valid key, in one pipeline.
func (m *RedisManager) AcquireMany(ctx context.Context, keys []string, ttl time.Duration) ([]*Lease, []error) {
	leases := make([]*Lease, len(keys))
	errs := make([]error, len(keys))
	var (
		items  []int // index in keys of each call
		owners []string
		calls  []scriptCall
	)
	for i, key := range keys {
		if err := validate(key, ttl); err != nil {
			errs[i] = err
			continue
		}
		owner := uuid.NewString()
		items = append(items, i)
		owners = append(owners, owner)
		calls = append(calls, m.acquireCall(key, owner, ttl))
	}
	sent := time.Now()
	var unanswered []scriptCall
	for j, cmd := range m.runMany(ctx, acquireScript, calls) {
		i := items[j]
		leases[i], errs[i] = acquired(cmd, keys[i], owners[j], ttl, sent)
		if errs[i] != nil && !errors.Is(errs[i], ErrNotAcquired) {
			unanswered = append(unanswered, calls[j])
		}
	}
	if len(unanswered) > 0 {
		m.forget(ctx, unanswered)
	}
	return leases, errs
}

// ReleaseMany implements Manager: releaseScript once per lease, in one pipeline.
func (m *RedisManager) ReleaseMany(ctx context.Context, ls []*Lease) []error {
	errs := make([]error, len(ls))
	var (
		items []int // index in ls of each call
		calls []scriptCall
	)
	for i, l := range ls {
		if l == nil {
			errs[i] = errors.New("lock: nil lease")
			continue
		}
		items = append(items, i)
		calls = append(calls, m.releaseCall(l))
	}
	for j, cmd := range m.runMany(ctx, releaseScript, calls) {
		i := items[j]
		errs[i] = released(cmd, ls[i])
	}
	return errs
}

// runMany runs script once per call, in order, in one pipeline of EVALSHA, and returns the
// answer to each call. The calls are independent: a call's error (a Redis error, or the
// transport's, which every call of the pipeline then gets) is its answer alone.
//
// Calls answered NOSCRIPT (the script cache was flushed, or a new server or failover replica
// has never seen the script) did not run; they run again once, in a second pipeline of EVAL,
// which also puts the script back into the cache. This is Script.Run's fallback, for a batch.
func (m *RedisManager) runMany(ctx context.Context, script *redis.Script, calls []scriptCall) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	if len(calls) == 0 {
		return cmds
	}
	// Pipelined's error is the first failed command's, which cmds already carry.
	_, _ = m.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var again []int
	for i, cmd := range cmds {
		if isNoScript(cmd.Err()) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		_, _ = m.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range again {
				cmds[i] = script.Eval(ctx, p, calls[i].keys, calls[i].args...)
			}
			return nil
		})
	}
	return cmds
}

// isNoScript reports whether err says that EVALSHA's script is not in the server's cache. A
// command run in a pipeline carries the server's raw error, not redis.ErrNoScript.
func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}
