package bench

import (
	"encoding/json"
	"testing"
	"time"
)

// The figures scripts/bench-compare.sh reads (jq) keep their names and units.
func TestResultJSON(t *testing.T) {
	s := Summary{Count: 100, Elapsed: 2 * time.Second, P50: 1500 * time.Microsecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond, Mean: 2 * time.Millisecond}
	base := Summary{Count: 400, Elapsed: 2 * time.Second, P50: 500 * time.Microsecond, P99: time.Millisecond, Mean: time.Millisecond}
	cases := map[string]struct {
		v    any
		want map[string]any
	}{
		"trigger": {(&TriggerResult{Baseline: base, Service: s}).JSON(), map[string]any{
			"shape": "trigger", "service.per_sec": 50.0, "baseline.per_sec": 200.0, "ratio.per_sec": 0.25, "ratio.p50": 3.0,
		}},
		"e2e": {(&E2EResult{Triggered: 10, Statuses: map[string]int{"SUCCEEDED": 9, "FAILED": 1}, Elapsed: 3 * time.Second}).JSON(), map[string]any{
			"shape": "e2e", "per_sec": 3.0, "lost": 1.0, "succeeded": 9.0,
		}},
		"pickup": {(&PickupResult{Triggered: 100, TriggerPhase: 2 * time.Second, Pickup: s}).JSON(), map[string]any{
			"shape": "pickup", "per_sec": 50.0, "p50_ms": 1.5, "p99_ms": 3.0, "pickup.max_ms": 4.0,
		}},
		"lock": {(&LockResult{Lock: s, Set: base}).JSON(), map[string]any{
			"shape": "lock", "ratio.mean": 2.0, "set.p99_ms": 1.0,
		}},
	}
	for name, c := range cases {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for path, want := range c.want {
			if v := lookup(got, path); v != want {
				t.Errorf("%s: %s = %v, want %v (%s)", name, path, v, want, b)
			}
		}
	}
	if v := (*E2EResult)(nil).JSON(); v != nil {
		t.Errorf("a nil result's JSON is %v, want nil (no object written)", v)
	}
}

// lookup reads a dotted path of nested objects.
func lookup(m map[string]any, path string) any {
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			next, _ := m[path[:i]].(map[string]any)
			return lookup(next, path[i+1:])
		}
	}
	return m[path]
}
