package schedulehealth

import (
	"context"
	"testing"
	"time"
)

// BenchmarkEvaluate10k is the verdicts of 10,000 every-minute triggers fired on time, from
// memory: the share of the list's time that is not the database's.
func BenchmarkEvaluate10k(b *testing.B) {
	store := fleet(10_000, func(int) int { return 10 })
	now := t0.Add(10*time.Minute + 5*time.Second)
	svc := NewService(store, Config{Now: func() time.Time { return now }})
	for b.Loop() {
		if _, err := svc.List(context.Background(), ListQuery{}); err != nil {
			b.Fatal(err)
		}
	}
}
