package lock_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/lock/locktest"
)

// replyLoser loses, while on, the replies of the acquire scripts that took their lock: the
// script ran on the server and the caller gets a transport error instead of its answer, as
// when the connection drops while the reply is on its way.
type replyLoser struct {
	mu   sync.Mutex
	on   bool
	lost int
}

func (l *replyLoser) lose(cmd redis.Cmder) {
	c, ok := cmd.(*redis.Cmd)
	args := cmd.Args()
	// EVALSHA sha numkeys ...: the acquire script is the one with two keys (the lock, the fence).
	if !ok || len(args) < 3 || (cmd.Name() != "evalsha" && cmd.Name() != "eval") || args[2] != 2 {
		return
	}
	if fence, err := c.Int64(); err == nil && fence > 0 {
		c.SetErr(io.ErrUnexpectedEOF)
		l.lost++
	}
}

func (*replyLoser) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *replyLoser) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.on {
			l.lose(cmd)
			return cmd.Err()
		}
		return err
	}
}
func (l *replyLoser) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.on {
			for _, cmd := range cmds {
				l.lose(cmd)
			}
		}
		return err
	}
}

func (l *replyLoser) set(on bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = on
	return l.lost
}

// An acquire whose reply is lost after its script took the lock does not leave the lock held
// until its TTL: the caller was told it did not get it, so nobody else would release it, and
// the key's next owner (a redelivered execution, the next fire) would wait the whole TTL.
func TestRedisManagerFreesLocksOfLostReplies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	client, prefix := locktest.Redis(t)
	loser := &replyLoser{}
	client.AddHook(loser)
	m := lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix})
	held, err := m.Acquire(ctx, "held", time.Hour)
	is.NoErr(err)

	loser.set(true)
	_, err = m.Acquire(ctx, "single", time.Hour)
	is.True(errors.Is(err, io.ErrUnexpectedEOF))
	leases, errs := m.AcquireMany(ctx, []string{"one", "held", "two"}, time.Hour)
	is.True(errors.Is(errs[0], io.ErrUnexpectedEOF) && errors.Is(errs[2], io.ErrUnexpectedEOF))
	is.True(errors.Is(errs[1], lock.ErrNotAcquired))
	is.True(leases[0] == nil && leases[1] == nil && leases[2] == nil)
	is.Equal(loser.set(false), 3) // three scripts took their lock and lost their reply

	for _, key := range []string{"single", "one", "two"} {
		n, err := client.Exists(ctx, prefix+"lock:{"+key+"}").Result()
		is.NoErr(err)
		is.Equal(n, int64(0)) // freed at once, not after the hour
		l, err := m.Acquire(ctx, key, time.Minute)
		is.NoErr(err)
		is.NoErr(m.Release(ctx, l))
	}
	owner, err := client.Get(ctx, prefix+"lock:{held}").Result()
	is.NoErr(err)
	is.Equal(owner, held.Owner) // a refused acquire frees nothing
}
