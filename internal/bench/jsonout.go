package bench

import (
	"encoding/json"
	"io"
	"os"
	"time"
)

// jsonFlag is the --json flag of the subcommands whose figures scripts read
// (scripts/bench-compare.sh): with it the human table goes to stderr and one JSON object, the
// figures of the run, to stdout.
type jsonFlag struct {
	JSON bool `name:"json" help:"Write the figures as one JSON object to stdout and the table to stderr. Default false."`
}

// report runs measure, writing its table to stdout, or with --json to stderr followed by the
// JSON object measure returns (when it returns one) on stdout. measure's error is returned
// after the object, so a run that failed still shows what it measured.
func (f jsonFlag) report(measure func(out io.Writer) (any, error)) error {
	if !f.JSON {
		_, err := measure(os.Stdout)
		return err
	}
	v, err := measure(os.Stderr)
	if v != nil {
		if werr := json.NewEncoder(os.Stdout).Encode(v); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// msFloat is d in milliseconds.
func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// SummaryJSON is a Summary as the JSON output writes it.
type SummaryJSON struct {
	Count   int     `json:"count"`
	Errors  int     `json:"errors"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	MeanMs  float64 `json:"mean_ms"`
}

// JSON is s in the JSON output's form.
func (s Summary) JSON() SummaryJSON {
	return SummaryJSON{
		Count: s.Count, Errors: s.Errors, Seconds: s.Elapsed.Seconds(), PerSec: s.Throughput(),
		P50Ms: msFloat(s.P50), P99Ms: msFloat(s.P99), MaxMs: msFloat(s.Max), MeanMs: msFloat(s.Mean),
	}
}

// RatioJSON is a measurement over its baseline of the same run.
type RatioJSON struct {
	PerSec float64 `json:"per_sec"`
	Mean   float64 `json:"mean"`
	P50    float64 `json:"p50"`
	P99    float64 `json:"p99"`
}

func ratioOf(s, base Summary) RatioJSON {
	return RatioJSON{
		PerSec: ratio(s.Throughput(), base.Throughput()),
		Mean:   ratio(float64(s.Mean), float64(base.Mean)),
		P50:    ratio(float64(s.P50), float64(base.P50)),
		P99:    ratio(float64(s.P99), float64(base.P99)),
	}
}

// JSON is r in the JSON output's form: "service" over "baseline" in "ratio".
func (r *TriggerResult) JSON() any {
	if r == nil {
		return nil
	}
	return map[string]any{
		"shape": "trigger", "baseline": r.Baseline.JSON(), "service": r.Service.JSON(),
		"ratio": ratioOf(r.Service, r.Baseline),
	}
}

// JSON is r in the JSON output's form; per_sec is the wall throughput (executions succeeded
// over first trigger → every execution seen ended), as the table's "throughput (wall)".
func (r *E2EResult) JSON() any {
	if r == nil {
		return nil
	}
	v := map[string]any{
		"shape": "e2e", "triggered": r.Triggered, "trigger_errors": r.TriggerErrors,
		"succeeded": r.Statuses["SUCCEEDED"], "lost": r.Lost(), "statuses": r.Statuses,
		"trigger_seconds": r.TriggerPhase.Seconds(), "seconds": r.Elapsed.Seconds(),
		"per_sec": ratio(float64(r.Statuses["SUCCEEDED"]), r.Elapsed.Seconds()),
	}
	if r.ServerSpan > 0 {
		v["server_span_seconds"] = r.ServerSpan.Seconds()
		v["per_sec_rows"] = ratio(float64(r.Statuses["SUCCEEDED"]), r.ServerSpan.Seconds())
	}
	return v
}

// JSON is r in the JSON output's form: p50_ms and p99_ms are the pickup latency's.
func (r *PickupResult) JSON() any {
	if r == nil {
		return nil
	}
	return map[string]any{
		"shape": "pickup", "triggered": r.Triggered, "trigger_errors": r.TriggerErrors, "not_started": r.NotStarted,
		"seconds": r.TriggerPhase.Seconds(), "per_sec": ratio(float64(r.Triggered), r.TriggerPhase.Seconds()),
		"p50_ms": msFloat(r.Pickup.P50), "p99_ms": msFloat(r.Pickup.P99), "max_ms": msFloat(r.Pickup.Max),
		"pickup": r.Pickup.JSON(), "trigger": r.Trigger.JSON(),
	}
}

// JSON is r in the JSON output's form: "lock" over "set" in "ratio".
func (r *LockResult) JSON() any {
	if r == nil {
		return nil
	}
	return map[string]any{"shape": "lock", "lock": r.Lock.JSON(), "set": r.Set.JSON(), "ratio": ratioOf(r.Lock, r.Set)}
}

// JSON is r in the JSON output's form: the scaling table and each round's throughput.
func (r *WorkersResult) JSON(cfg WorkersConfig) any {
	if r == nil {
		return nil
	}
	type row struct {
		Workers    int     `json:"workers"`
		Repeats    int     `json:"repeats"`
		PerSec     float64 `json:"per_sec"`
		MinPerSec  float64 `json:"min_per_sec"`
		MaxPerSec  float64 `json:"max_per_sec"`
		Ideal      float64 `json:"ideal_per_sec"`
		Ratio      float64 `json:"ratio"`
		Efficiency float64 `json:"efficiency"`
	}
	type round struct {
		Repeat    int     `json:"repeat"`
		Workers   int     `json:"workers"`
		Triggered int     `json:"triggered"`
		Succeeded int     `json:"succeeded"`
		Steady    bool    `json:"steady"`
		PerSec    float64 `json:"per_sec"`
	}
	rows := make([]row, 0, len(r.Scaling))
	for _, s := range r.Scaling {
		rows = append(rows, row{s.Workers, s.Repeats, s.Throughput, s.Min, s.Max, s.Ideal, s.Ratio, s.Efficiency})
	}
	rounds := make([]round, 0, len(r.Rounds))
	for _, x := range r.Rounds {
		rounds = append(rounds, round{x.Repeat, x.Workers, x.Triggered, x.Succeeded, x.Steady, x.Throughput})
	}
	cfg = cfg.withDefaults()
	return map[string]any{
		"shape": "workers", "concurrency": cfg.Concurrency, "delay_ms": msFloat(cfg.Delay),
		"executions_per_worker": cfg.ExecutionsPerWorker, "repeats": cfg.Repeats,
		"efficiency_target": efficiencyTarget, "statements": r.Statements, "scaling": rows, "rounds": rounds,
	}
}
