package waitlist_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
	"github.com/workflow-runtime/workflow-runtime/internal/waitlist"
)

type list interface {
	Push(ctx context.Context, workflowID, id string, limit int, front bool) (bool, error)
	Pop(ctx context.Context, workflowID string) (string, bool, error)
	Len(ctx context.Context, workflowID string) (int, error)
	List(ctx context.Context, workflowID string) ([]string, error)
}

// backends runs the contract against the in-process and the Redis waitlist.
func backends(t *testing.T, f func(t *testing.T, l list)) {
	t.Run("local", func(t *testing.T) { t.Parallel(); f(t, waitlist.NewLocal()) })
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		f(t, waitlist.NewRedis(testenv.RedisPrefixed(t)))
	})
}

func TestOrderAndIdempotence(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, l list) {
		is := is.New(t)
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c", "b"} {
			ok, err := l.Push(ctx, "wf", id, 0, false)
			is.NoErr(err)
			is.True(ok)
		}
		ok, err := l.Push(ctx, "wf", "z", 0, true)
		is.NoErr(err)
		is.True(ok)
		n, err := l.Len(ctx, "wf")
		is.NoErr(err)
		is.Equal(n, 4) // "b" is held once
		all, err := l.List(ctx, "wf")
		is.NoErr(err)
		is.Equal(all, []string{"z", "a", "b", "c"}) // first first, nothing taken
		var got []string
		for {
			id, ok, err := l.Pop(ctx, "wf")
			is.NoErr(err)
			if !ok {
				break
			}
			got = append(got, id)
		}
		is.Equal(got, []string{"z", "a", "b", "c"})
		_, ok, err = l.Pop(ctx, "other")
		is.NoErr(err)
		is.True(!ok) // empty list
	})
}

func TestCapacityUnderConcurrency(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, l list) {
		is := is.New(t)
		ctx := context.Background()
		var accepted atomic.Int32
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				ok, err := l.Push(ctx, "one", fmt.Sprint(i), 1, false)
				if err == nil && ok {
					accepted.Add(1)
				}
			})
		}
		wg.Wait()
		is.Equal(accepted.Load(), int32(1)) // BUFFER_ONE: exactly one waits
		n, err := l.Len(ctx, "one")
		is.NoErr(err)
		is.Equal(n, 1)
	})
}
