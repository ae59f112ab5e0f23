package execution

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"
)

// gatedGroup returns a group whose first batch waits until release is closed (so later calls
// queue up behind it), and the sizes of the batches it ran.
func gatedGroup(t *testing.T, run func(reqs []int) ([]int, error)) (g *group[int, int], held <-chan struct{}, release chan struct{}, sizes func() []int) {
	t.Helper()
	var (
		mu    sync.Mutex
		seen  []int
		first = make(chan struct{})
		once  sync.Once
	)
	release = make(chan struct{})
	g = newGroup("double", 8, slog.New(slog.DiscardHandler), func(_ context.Context, reqs []int) ([]int, error) {
		mu.Lock()
		seen = append(seen, len(reqs))
		mu.Unlock()
		once.Do(func() { close(first); <-release })
		return run(reqs)
	})
	return g, first, release, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), seen...)
	}
}

func double(reqs []int) ([]int, error) {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = 2 * r
	}
	return out, nil
}

func TestGroupBatchesWaitingCallsAndAnswersEach(t *testing.T) {
	is := is.New(t)
	g, held, release, sizes := gatedGroup(t, double)
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([]int, 21)
	errs := make([]error, 21)
	wg.Go(func() { got[0], errs[0] = g.do(ctx, 0) })
	<-held
	for i := 1; i <= 20; i++ {
		wg.Go(func() { got[i], errs[i] = g.do(ctx, i) })
	}
	for { // all 20 queued behind the held batch
		g.mu.Lock()
		n := len(g.waiting)
		g.mu.Unlock()
		if n == 20 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i := range got {
		is.NoErr(errs[i])
		is.Equal(got[i], 2*i) // each caller gets its own answer
	}
	is.Equal(sizes(), []int{1, 8, 8, 4}) // a lone call, then the queue in batches of at most max
	g.mu.Lock()
	is.True(!g.running) // stopped once nobody waited
	g.mu.Unlock()
}

func TestGroupPanicAndShortAnswerBecomeErrors(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	panicky := newGroup("explode", 8, logger, func(context.Context, []int) ([]int, error) { panic("boom") })
	_, err := panicky.do(ctx, 1)
	is.True(err != nil && strings.Contains(err.Error(), "explode: panic: boom"))
	_, err = panicky.do(ctx, 2) // the group keeps working after a panic
	is.True(err != nil)

	short := newGroup("short", 8, logger, func(context.Context, []int) ([]int, error) { return nil, nil })
	_, err = short.do(ctx, 1)
	is.True(err != nil && strings.Contains(err.Error(), "0 answers for 1 requests"))

	failing := newGroup("fail", 8, logger, func(context.Context, []int) ([]int, error) { return nil, io.ErrUnexpectedEOF })
	_, err = failing.do(ctx, 1)
	is.True(errors.Is(err, io.ErrUnexpectedEOF)) // a batch error answers every caller
}

func TestGroupCallerWhoLeavesGetsCtxErr(t *testing.T) {
	is := is.New(t)
	g, held, release, sizes := gatedGroup(t, double)
	bg := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = g.do(bg, 0) })
	<-held
	ctx, cancel := context.WithCancel(bg)
	gone := make(chan error, 1)
	go func() { _, err := g.do(ctx, 1); gone <- err }()
	var stay int
	var stayErr error
	wg.Go(func() { stay, stayErr = g.do(bg, 2) })
	for {
		g.mu.Lock()
		n := len(g.waiting)
		g.mu.Unlock()
		if n == 2 {
			break
		}
		runtime.Gosched()
	}
	cancel()
	is.True(errors.Is(<-gone, context.Canceled)) // at once, while the batch before it still runs
	close(release)
	wg.Wait()
	is.NoErr(stayErr)
	is.Equal(stay, 4)
	is.Equal(sizes(), []int{1, 1}) // the caller that left was not run
}
