package schedulehealth

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestOwedCacheGoesOn(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	// Every second, deployed at t0, never fired.
	store := fleet(1, func(int) int { return -1 })
	store.triggers[0].Cron.Expression = "* * * * * ?"
	now := t0.Add(10 * time.Minute)
	svc := NewService(store, Config{Now: func() time.Time { return now }, Grace: 30 * time.Second})

	check := func(at time.Time) {
		t.Helper()
		now = at
		verdicts, _, err := svc.Evaluate(ctx, "", at)
		is.NoErr(err)
		want := Evaluate(&store.triggers[0], at, 30*time.Second) // the pure count
		is.Equal(verdicts[0].Owed, want.Owed)
		is.True(verdicts[0].OldestOwed.Equal(want.OldestOwed))
	}
	check(t0.Add(10 * time.Minute)) // 569 owed
	is.Equal(svc.owed.size(), 1)
	check(t0.Add(10*time.Minute + 7*time.Second)) // 7 more, counted from where it stopped
	check(t0.Add(10*time.Minute + 3*time.Second)) // an older clock: counted afresh
	check(t0.Add(48 * time.Hour))                 // to the cap
	check(t0.Add(49 * time.Hour))                 // stays at the cap
	is.Equal(svc.owed.size(), 1)

	// Filtered evaluations keep the entries; a full one that no longer sees the trigger (it
	// fired: a new last settled point) drops the old count.
	store.set(0, fired(49*60, 0, "FIRED"))
	_, _, err := svc.Evaluate(ctx, "d-000", t0.Add(49*time.Hour+time.Minute))
	is.NoErr(err)
	_, _, err = svc.Evaluate(ctx, "", t0.Add(49*time.Hour+time.Minute))
	is.NoErr(err)
	is.Equal(svc.owed.size(), 1) // the new count only
}
