package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// The tables of `bench workers`: pure functions of the rounds.

// efficiencyTarget is what the scaling table checks: N workers do at least this share of N
// times what one does.
const efficiencyTarget = 0.9

// ScalingRow is one worker count's line of the scaling table.
type ScalingRow struct {
	Workers, Repeats int
	// Throughput is the median over the repeats, Min and Max their range; Ideal is
	// Workers × concurrency / delay.
	Throughput, Min, Max, Ideal float64
	// Ratio is the median over the repeats of Throughput / the baseline's Throughput in the
	// same repeat (the baseline is the smallest worker count); Efficiency is Ratio / (Workers
	// / baseline workers): 1 is linear. Both 0 when no baseline round was measured.
	Ratio, Efficiency float64
}

// scaling summarizes rounds by worker count, in the order the counts first appear.
func scaling(rounds []WorkersRound, ideal func(int) float64) []ScalingRow {
	if len(rounds) == 0 {
		return nil
	}
	base := slices.MinFunc(rounds, func(a, b WorkersRound) int { return cmp.Compare(a.Workers, b.Workers) }).Workers
	baseline := map[int]float64{} // repeat -> the baseline's throughput
	for _, r := range rounds {
		if r.Workers == base {
			baseline[r.Repeat] = r.Throughput
		}
	}
	var order []int
	byWorkers := map[int][]WorkersRound{}
	for _, r := range rounds {
		if _, seen := byWorkers[r.Workers]; !seen {
			order = append(order, r.Workers)
		}
		byWorkers[r.Workers] = append(byWorkers[r.Workers], r)
	}
	rows := make([]ScalingRow, 0, len(order))
	for _, n := range order {
		var thr, ratios []float64
		for _, r := range byWorkers[n] {
			thr = append(thr, r.Throughput)
			if b := baseline[r.Repeat]; b > 0 {
				ratios = append(ratios, r.Throughput/b)
			}
		}
		row := ScalingRow{
			Workers: n, Repeats: len(thr), Throughput: median(thr), Min: slices.Min(thr), Max: slices.Max(thr), Ideal: ideal(n),
		}
		if len(ratios) > 0 {
			row.Ratio = median(ratios)
			row.Efficiency = row.Ratio / (float64(n) / float64(base))
		}
		rows = append(rows, row)
	}
	return rows
}

// median of vs (the mean of the middle two for an even count); 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sumUsage adds up the usage of rounds.
func sumUsage(rounds []WorkersRound) Usage {
	var u Usage
	u.ByStatement, u.ByCommand = map[string]int64{}, map[string]int64{}
	add := func(a *int64, b int64) {
		if *a < 0 || b < 0 {
			*a = -1
			return
		}
		*a += b
	}
	addCPU := func(a *time.Duration, b time.Duration) {
		if *a < 0 || b < 0 {
			*a = -1
			return
		}
		*a += b
	}
	for _, r := range rounds {
		x := r.Usage
		u.Executions += x.Executions
		add(&u.Statements, x.Statements)
		add(&u.Transactions, x.Transactions)
		add(&u.RowsWritten, x.RowsWritten)
		add(&u.RedisCommands, x.RedisCommands)
		add(&u.RedisReads, x.RedisReads)
		addCPU(&u.CPU.Workers, x.CPU.Workers)
		addCPU(&u.CPU.API, x.CPU.API)
		addCPU(&u.CPU.Postgres, x.CPU.Postgres)
		addCPU(&u.CPU.Redis, x.CPU.Redis)
		addCPU(&u.CPU.Bench, x.CPU.Bench)
		for k, n := range x.ByStatement {
			u.ByStatement[k] += n
		}
		for k, n := range x.ByCommand {
			u.ByCommand[k] += n
		}
		u.Evicted += x.Evicted
	}
	return u
}

// serviceCPU is the CPU time of the service's processes and servers (not the bench's); -1
// when a part is unknown.
func (c CPUSet) serviceCPU() time.Duration {
	if c.Workers < 0 || c.API < 0 || c.Postgres < 0 || c.Redis < 0 {
		return -1
	}
	return c.Workers + c.API + c.Postgres + c.Redis
}

// perExec formats n per execution with two decimals; "n/a" when unknown.
func perExec(n int64, executions int) string {
	if n < 0 || executions == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(n)/float64(executions))
}

// cpuPerExec formats CPU time per execution in milliseconds; "n/a" when unknown.
func cpuPerExec(d time.Duration, executions int) string {
	if d < 0 || executions == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)/float64(executions))
}

// cores formats a number of cores; "n/a" when unknown.
func cores(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

// slotTime is how long a worker slot took per execution on average at a throughput:
// workers × concurrency / throughput; the delay of the ideal plus the overhead of an execution.
func slotTime(workers, concurrency int, throughput float64) string {
	if throughput <= 0 {
		return "n/a"
	}
	return ms(time.Duration(float64(workers*concurrency) / throughput * float64(time.Second)))
}

// writeRoundLine writes a line about a finished round.
func writeRoundLine(out io.Writer, r WorkersRound, ideal float64) error {
	window := "steady"
	if !r.Steady {
		window = "whole round (no steady window: too few executions)"
	}
	if r.Duration > sweepAfter {
		window += fmt.Sprintf("; the round took %s, longer than the sweeper lets an execution wait (%s): fewer executions per worker", r.Duration.Round(time.Second), sweepAfter)
	}
	c := r.Cores
	_, err := fmt.Fprintf(out, "repeat %d, %d workers: %d/%d succeeded, triggered in %s; %s over %s %s (%.2f of ideal %s); cores: machine %s (steal %s), workers %s, api %s, postgres %s, redis %s, bench %s\n",
		r.Repeat, r.Workers, r.Succeeded, r.Triggered, r.TriggerPhase.Round(time.Millisecond),
		perSec(r.Throughput), r.Window.Round(time.Millisecond), window, ratio(r.Throughput, ideal), perSec(ideal),
		cores(c.Machine), cores(c.Steal), cores(c.Workers), cores(c.API), cores(c.Postgres), cores(c.Redis), cores(c.Bench))
	return err
}

// writeWorkersReport writes the scaling table, the cost per execution by worker count, and
// the statements and Redis commands that cost the most.
func writeWorkersReport(out io.Writer, res *WorkersResult, cfg WorkersConfig, cpus int) error {
	if len(res.Scaling) == 0 {
		return nil
	}
	base := slices.MinFunc(res.Scaling, func(a, b ScalingRow) int { return cmp.Compare(a.Workers, b.Workers) }).Workers
	if _, err := fmt.Fprintf(out, "\nscaling (median of %d interleaved repeats; ratio to %d worker(s) in the same repeat; efficiency = ratio / (N/%d), target ≥ %.1f; slot time = N × concurrency / throughput)\n",
		cfg.Repeats, base, base, efficiencyTarget); err != nil {
		return err
	}
	rows := [][]string{{"workers", "throughput", "min–max", "ideal", "of ideal", "slot time", "ratio", "efficiency", "≥ " + fmt.Sprint(efficiencyTarget)}}
	for _, s := range res.Scaling {
		met := "—"
		if s.Workers != base && s.Ratio > 0 {
			met = map[bool]string{true: "yes", false: "no"}[s.Efficiency >= efficiencyTarget]
		}
		rows = append(rows, []string{
			fmt.Sprint(s.Workers), perSec(s.Throughput), perSec(s.Min) + "–" + perSec(s.Max), perSec(s.Ideal),
			times(ratio(s.Throughput, s.Ideal)), slotTime(s.Workers, cfg.Concurrency, s.Throughput), times(s.Ratio), fmt.Sprintf("%.3f", s.Efficiency), met,
		})
	}
	if err := table(out, rows); err != nil {
		return err
	}

	if _, err := fmt.Fprintf(out, "\nper execution, trigger to done (all repeats; statements: %s; servers' figures are server-wide)\n", res.Statements); err != nil {
		return err
	}
	rows = [][]string{{"workers", "pg statements", "pg transactions", "rows written", "redis commands", "redis reads",
		"cpu workers", "cpu api", "cpu postgres", "cpu redis", "cpu service", "cpu bench", fmt.Sprintf("cpu ceiling (%d cores)", cpus)}}
	for _, s := range res.Scaling {
		var rounds []WorkersRound
		for _, r := range res.Rounds {
			if r.Workers == s.Workers {
				rounds = append(rounds, r)
			}
		}
		u := sumUsage(rounds)
		ceiling := "n/a"
		if svc := u.CPU.serviceCPU(); svc > 0 {
			ceiling = perSec(float64(cpus) / (svc.Seconds() / float64(u.Executions)))
		}
		rows = append(rows, []string{
			fmt.Sprint(s.Workers), perExec(u.Statements, u.Executions), perExec(u.Transactions, u.Executions),
			perExec(u.RowsWritten, u.Executions),
			perExec(u.RedisCommands, u.Executions), perExec(u.RedisReads, u.Executions),
			cpuPerExec(u.CPU.Workers, u.Executions), cpuPerExec(u.CPU.API, u.Executions), cpuPerExec(u.CPU.Postgres, u.Executions),
			cpuPerExec(u.CPU.Redis, u.Executions), cpuPerExec(u.CPU.serviceCPU(), u.Executions), cpuPerExec(u.CPU.Bench, u.Executions), ceiling,
		})
	}
	if err := table(out, rows); err != nil {
		return err
	}

	all := sumUsage(res.Rounds)
	if all.Evicted > 0 {
		if _, err := fmt.Fprintf(out, "warning: pg_stat_statements evicted %d entries during the rounds (pg_stat_statements.max): the statement counts are too low\n", all.Evicted); err != nil {
			return err
		}
	}
	for _, top := range []struct {
		title  string
		counts map[string]int64
	}{
		{"statements per execution (pg_stat_statements, all rounds)", all.ByStatement},
		{"redis commands per execution (INFO commandstats, Lua scripts' own included, all rounds)", all.ByCommand},
	} {
		if len(top.counts) == 0 {
			continue
		}
		if _, err := fmt.Fprintf(out, "\n%s\n", top.title); err != nil {
			return err
		}
		rows = [][]string{{"per execution", "what"}}
		for _, kv := range topCounts(top.counts, 15) {
			rows = append(rows, []string{perExec(kv.n, all.Executions), kv.name})
		}
		if err := table(out, rows); err != nil {
			return err
		}
	}
	return nil
}

type namedCount struct {
	name string
	n    int64
}

// topCounts is the n largest counts, largest first (ties by name).
func topCounts(counts map[string]int64, n int) []namedCount {
	all := make([]namedCount, 0, len(counts))
	for k, v := range counts {
		all = append(all, namedCount{k, v})
	}
	slices.SortFunc(all, func(a, b namedCount) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name))
	})
	return all[:min(n, len(all))]
}
