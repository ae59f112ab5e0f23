package testenv_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// TestSignalAwait: Await looks again at each Fire and returns once the state holds; a Fire
// between a look and the wait is not missed.
func TestSignalAwait(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var (
		s     testenv.Signal
		n     atomic.Int64
		looks atomic.Int64
	)
	go func() {
		for range 5 {
			n.Add(1)
			s.Fire()
		}
	}()
	s.Await(t, time.Minute, func() error {
		looks.Add(1)
		if n.Load() < 5 {
			return errors.New("fewer than 5")
		}
		return nil
	})
	is.Equal(n.Load(), int64(5))
	is.True(looks.Load() <= 6) // once at the start, then at most once per Fire

	s.Fire() // nobody waits: nothing happens
	next := s.Next()
	s.Fire()
	<-next // closed by the Fire after it was taken
}

// TestPoll: Poll asks until cond holds.
func TestPoll(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var asked int
	testenv.PollEvery(t, time.Millisecond, time.Minute, func() error {
		if asked++; asked < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	is.Equal(asked, 3)
}
