package quota_test

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/quota"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

func TestAllowPerCaller(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	clock := testenv.NewFakeClock()
	l := quota.New(quota.Config{Rate: 2, Burst: 3, Now: clock.Now})
	for range 3 {
		ok, _ := l.Allow("a")
		is.True(ok) // the burst
	}
	ok, wait := l.Allow("a")
	is.True(!ok)                         // the bucket is empty
	is.Equal(wait, 500*time.Millisecond) // one call per 1/Rate
	ok, _ = l.Allow("b")
	is.True(ok) // another caller has a bucket of its own

	clock.Advance(500 * time.Millisecond)
	ok, _ = l.Allow("a")
	is.True(ok) // refilled by one
	ok, _ = l.Allow("a")
	is.True(!ok) // a refused call took nothing: still one per 500ms

	clock.Advance(time.Minute)
	_, _ = l.Allow("c") // sweeps the full buckets of a and b
	is.Equal(l.Len(), 1)
}

func TestOff(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.True(quota.New(quota.Config{}) == nil) // rate 0: no limiter
	l := quota.New(quota.Config{Rate: 0.5})
	ok, _ := l.Allow("x")
	is.True(ok) // burst at least 1
}
