package execution

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
)

// gatedNotifier records the payloads published on it; each Publish says so on entered, then
// waits for a value on gate and answers it.
type gatedNotifier struct {
	entered  chan struct{}
	gate     chan error
	mu       sync.Mutex
	payloads []string
}

func (n *gatedNotifier) Publish(_ context.Context, _, payload string) error {
	n.entered <- struct{}{}
	err := <-n.gate
	n.mu.Lock()
	defer n.mu.Unlock()
	n.payloads = append(n.payloads, payload)
	return err
}

func (n *gatedNotifier) Subscribe(context.Context, string, func(string)) (func(), error) {
	return func() {}, nil
}

// TestChangeFeedBatchesAndDrops: lines that gather while a publish is in flight go out
// together, at most a batch per payload; beyond max waiting lines new ones are dropped; a
// failed publish is logged once, and so is the recovery.
func TestChangeFeedBatchesAndDrops(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var logs bytes.Buffer
	n := &gatedNotifier{entered: make(chan struct{}), gate: make(chan error)}
	f := newChangeFeed(n, slog.New(slog.NewTextHandler(&logs, nil)))
	f.batch, f.max = 3, 5

	f.add("d", "e0", StatusPending) // starts the loop, which waits on the gate
	<-n.entered
	for i := range 6 {
		f.add("d", "e"+string(rune('1'+i)), StatusRunning)
	}
	// e0 is in flight; e1..e5 wait (max 5); e6 was dropped.
	failure := errors.New("redis away")
	n.gate <- failure // e0: failed, dropped
	<-n.entered
	n.gate <- failure // e1 e2 e3: failed again, logged once
	<-n.entered
	n.gate <- nil // e4 e5
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	is.NoErr(f.flush(ctx))
	is.NoErr(f.flush(ctx)) // idle: at once
	is.Equal(n.payloads, []string{
		"d e0 PENDING",
		"d e1 RUNNING\nd e2 RUNNING\nd e3 RUNNING",
		"d e4 RUNNING\nd e5 RUNNING",
	})
	is.Equal(strings.Count(logs.String(), "publish execution changes failed"), 1)
	is.Equal(strings.Count(logs.String(), "execution changes are published again"), 1)

	var none *changeFeed
	none.add("d", "e", StatusPending) // a nil feed publishes nothing
	is.NoErr(none.flush(ctx))
	is.True(newChangeFeed(nil, nil) == nil) // no notifier, no feed

	f.add("d", "e7", StatusPending) // in flight until the gate opens
	<-n.entered
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	is.Equal(f.flush(short), context.Canceled) // flush gives up with its context
	n.gate <- nil
	is.NoErr(f.flush(ctx))
}
