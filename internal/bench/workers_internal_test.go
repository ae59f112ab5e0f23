package bench

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// The pure parts of `bench workers`: parsing /proc and INFO, the steady window, the ratios and
// the tables.

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// comm may hold spaces and parentheses: the fields after it start at its last ')'.
	line := "4242 (odd (name) x) S 2210 4242 4242 0 -1 4194304 3989 14194 0 7 150 25 300 40 20 0 1 0 3493 222543872 7639\n"
	s, err := parseProcStat([]byte(line))
	is.NoErr(err)
	is.Equal(s.comm, "odd (name) x")
	is.Equal(s.ppid, 2210)
	is.Equal(s.user, 1500*time.Millisecond) // 150 ticks of 10 ms
	is.Equal(s.system, 250*time.Millisecond)
	is.Equal(s.childUser, 3*time.Second)
	is.Equal(s.childSystem, 400*time.Millisecond)
	is.Equal(s.own(), 1750*time.Millisecond)

	for _, bad := range []string{
		"4242 no comm S 1 2 3",
		"4242 (short) S 1 2 3",
		"4242 (x) S notanumber 4242 4242 0 -1 4194304 3989 14194 0 7 150 25 300 40 20",
		"4242 (x) S 1 4242 4242 0 -1 4194304 3989 14194 0 7 1.5 25 300 40 20",
	} {
		_, err := parseProcStat([]byte(bad))
		is.True(err != nil) // bad
	}
}

func TestProcessCPUOfThisProcess(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	is.True(processCPU(os.Getpid()) >= 0)
	is.Equal(processCPU(-1), time.Duration(-1))                     // no such process: unknown
	is.Equal(findPostgres(os.Getpid()), postgresTree{})             // this process is no postgres backend
	is.Equal(findPostgres(-1), postgresTree{})                      // nor is a process that does not exist
	is.Equal(postgresTree{}.cpu(), time.Duration(-1))               // no server found: unknown
	is.Equal(postgresTree{postmaster: -1}.cpu(), time.Duration(-1)) // unreadable
	m := readMachineCPU()
	is.True(m.total > 0)
	is.True(m.busy <= m.total)
}

func TestParseMachineStat(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	m, err := parseMachineStat([]byte("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\n"))
	is.NoErr(err)
	is.Equal(m.total, 990*clockTick)
	is.Equal(m.busy, 160*clockTick) // user, nice, system, irq, softirq
	is.Equal(m.steal, 10*clockTick)

	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 3", "cpu 1 2 3 4 5 6 7 x"} {
		_, err := parseMachineStat([]byte(bad))
		is.True(err != nil) // bad
	}

	a := machineCPU{busy: 100 * clockTick, steal: 0, total: 400 * clockTick}
	z := machineCPU{busy: 250 * clockTick, steal: 20 * clockTick, total: 600 * clockTick}
	busy, steal := busyCores(a, z, 2)
	is.Equal(busy, 1.5) // 150 of 200 ticks busy, on 2 CPUs
	is.Equal(steal, 0.2)
	busy, steal = busyCores(z, a, 2)
	is.Equal(busy, -1.0) // not forward in time: unknown
	is.Equal(steal, -1.0)
}

func TestParseRedisInfo(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	info := "# Commandstats\r\n" +
		"cmdstat_xadd:calls=120,usec=300,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=4,usec=4,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n" +
		"\r\n# Stats\r\ntotal_reads_processed:9001\r\ntotal_commands_processed:500\r\n" +
		"# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.750000\r\nused_cpu_sys_children:9.000000\r\n"
	c, err := parseRedisInfo(info)
	is.NoErr(err)
	is.Equal(c.commands, map[string]int64{"xadd": 120, "client|setinfo": 4})
	is.Equal(c.reads, int64(9001))
	is.Equal(c.cpu, 2*time.Second) // user + sys, not the children's

	for _, bad := range []string{"cmdstat_get:calls=x,usec=1", "total_reads_processed:many", "used_cpu_sys:lots"} {
		_, err := parseRedisInfo(bad)
		is.True(err != nil) // bad
	}
}

// samples builds samples 100 ms apart with the given done counts.
func samples(start time.Time, done ...int) []sample {
	s := make([]sample, len(done))
	for i, d := range done {
		s[i] = sample{at: start.Add(time.Duration(i) * 100 * time.Millisecond), done: d}
	}
	return s
}

func TestSteadyWindow(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	t0 := time.Unix(1000, 0)
	s := samples(t0, 0, 5, 15, 30, 50, 70, 85, 95, 100)

	from, to, ok := steadyWindow(s, 100, t0)
	is.True(ok)
	is.Equal(from, 2) // the first with at least 10 done
	is.Equal(to, 7)   // the first with at least 90 done

	from, to, ok = steadyWindow(s, 100, t0.Add(350*time.Millisecond))
	is.True(ok)
	is.Equal(from, 4) // the first after the last trigger
	is.Equal(to, 7)

	_, _, ok = steadyWindow(s, 100, t0.Add(750*time.Millisecond))
	is.True(!ok) // triggering ended after 90% were done: no steady part

	_, _, ok = steadyWindow(samples(t0, 0, 100), 100, t0)
	is.True(!ok) // one interval from nothing to everything

	_, _, ok = steadyWindow(nil, 100, t0)
	is.True(!ok)
}

func TestCoresBetween(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	t0 := time.Unix(1000, 0)
	a := sample{at: t0, machine: machineCPU{busy: 0, total: 0},
		cpu: CPUSet{Workers: time.Second, API: 0, Postgres: -1, Redis: 0, Bench: 0}}
	z := sample{at: t0.Add(2 * time.Second), machine: machineCPU{busy: 300 * clockTick, total: 400 * clockTick},
		cpu: CPUSet{Workers: 2 * time.Second, API: 100 * time.Millisecond, Postgres: time.Second, Redis: 200 * time.Millisecond, Bench: 0}}
	c := coresBetween(a, z, 2)
	is.Equal(c.Workers, 0.5) // one CPU second in two seconds
	is.Equal(c.API, 0.05)
	is.Equal(c.Postgres, -1.0) // unknown at the start
	is.Equal(c.Redis, 0.1)
	is.Equal(c.Machine, 1.5)
	is.Equal(c.Steal, 0.0)
}

func TestScaling(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	round := func(repeat, workers int, thr float64) WorkersRound {
		return WorkersRound{Repeat: repeat, Workers: workers, Throughput: thr}
	}
	rounds := []WorkersRound{
		round(1, 1, 100), round(1, 2, 190), round(1, 4, 300),
		round(2, 1, 50), round(2, 2, 100), round(2, 4, 200), // a noisy repeat: the ratios still hold
		round(3, 1, 110), round(3, 2, 200), round(3, 4, 380),
	}
	ideal := func(n int) float64 { return float64(n) * 200 }
	rows := scaling(rounds, ideal)
	is.Equal(len(rows), 3)
	is.Equal(rows[0], ScalingRow{Workers: 1, Repeats: 3, Throughput: 100, Min: 50, Max: 110, Ideal: 200, Ratio: 1, Efficiency: 1})
	is.Equal(rows[1].Workers, 2)
	is.Equal(rows[1].Throughput, 190.0)
	is.True(math.Abs(rows[1].Ratio-1.9) < 1e-9) // median of 1.9, 2.0, 1.818…
	is.True(math.Abs(rows[1].Efficiency-0.95) < 1e-9)
	is.Equal(rows[2].Ratio, 3.4545454545454546) // median of 3.0, 4.0, 3.4545…
	is.True(math.Abs(rows[2].Efficiency-rows[2].Ratio/4) < 1e-12)
	is.Equal(rows[2].Ideal, 800.0)

	// A baseline other than 1: the efficiency is against the ratio of the counts.
	rows = scaling([]WorkersRound{round(1, 2, 100), round(1, 4, 180)}, ideal)
	is.Equal(rows[1].Ratio, 1.8)
	is.Equal(rows[1].Efficiency, 0.9)

	// No baseline round in a repeat (it failed): no ratio for it.
	rows = scaling([]WorkersRound{round(1, 1, 0), round(1, 2, 100)}, ideal)
	is.Equal(rows[1].Ratio, 0.0)
	is.Equal(scaling(nil, ideal), []ScalingRow(nil))
}

func TestMedian(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(median(nil), 0.0)
	is.Equal(median([]float64{3}), 3.0)
	is.Equal(median([]float64{3, 1, 2}), 2.0)
	in := []float64{4, 1, 3, 2}
	is.Equal(median(in), 2.5)
	is.Equal(in, []float64{4, 1, 3, 2}) // not sorted in place
}

func TestUsageOf(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	pgA := pgCounters{statements: 1000, byStatement: map[string]int64{"SELECT a": 10, "BEGIN": 500}, dealloc: 2,
		transactions: 700, inserted: 5, updated: 6, deleted: 7}
	pgZ := pgCounters{statements: 1600, byStatement: map[string]int64{"SELECT a": 10, "BEGIN": 800, "UPDATE b": 280,
		"SELECT count(*) FROM executions WHERE workflow_id = $1 AND status IN ($2, $3)": 20}, dealloc: 3,
		transactions: 1000, inserted: 105, updated: 206, deleted: 7}
	rA := redisCounters{commands: map[string]int64{"xadd": 10, "info": 4}, reads: 50}
	rZ := redisCounters{commands: map[string]int64{"xadd": 110, "info": 40, "evalsha": 300}, reads: 400}
	u := usageOf(pgA, pgZ, rA, rZ, 20, 30)
	is.Equal(u.Statements, int64(580))   // 600 without the bench's own 20
	is.Equal(u.Transactions, int64(280)) // 300 without the bench's own 20
	is.Equal(u.RowsWritten, int64(300))
	is.Equal(u.ByStatement, map[string]int64{"BEGIN": 300, "UPDATE b": 280}) // unchanged ones and the bench's own left out
	is.Equal(u.Evicted, int64(1))
	is.Equal(u.RedisCommands, int64(400)) // INFO is the bench's own
	is.Equal(u.ByCommand, map[string]int64{"xadd": 100, "evalsha": 300})
	is.Equal(u.RedisReads, int64(320))

	pgA.statements, pgZ.statements = -1, -1 // no pg_stat_statements
	u = usageOf(pgA, pgZ, rA, rZ, 20, 30)
	is.Equal(u.Statements, int64(-1))
	is.Equal(u.ByStatement, map[string]int64(nil))
}

func TestSumUsageAndCPU(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := Usage{Executions: 100, Statements: 1000, Transactions: 500, RowsWritten: 300, RedisCommands: 2000, RedisReads: 400,
		CPU:         CPUSet{Workers: time.Second, API: 100 * time.Millisecond, Postgres: time.Second, Redis: 50 * time.Millisecond, Bench: 10 * time.Millisecond},
		ByStatement: map[string]int64{"BEGIN": 100}, ByCommand: map[string]int64{"xadd": 100}, Evicted: 1}
	b := a
	b.Statements = -1
	b.CPU.Postgres = -1
	u := sumUsage([]WorkersRound{{Usage: a}, {Usage: b}})
	is.Equal(u.Executions, 200)
	is.Equal(u.Statements, int64(-1)) // unknown in one round: unknown
	is.Equal(u.Transactions, int64(1000))
	is.Equal(u.CPU.Workers, 2*time.Second)
	is.Equal(u.CPU.Postgres, time.Duration(-1))
	is.Equal(u.CPU.serviceCPU(), time.Duration(-1))
	is.Equal(u.ByCommand["xadd"], int64(200))
	is.Equal(u.ByStatement["BEGIN"], int64(200))
	is.Equal(u.Evicted, int64(2))
	is.Equal(a.CPU.serviceCPU(), 2150*time.Millisecond) // without the bench

	d := CPUSet{Workers: 3 * time.Second, API: time.Second, Postgres: -1, Redis: time.Second, Bench: time.Second}.sub(a.CPU)
	is.Equal(d, CPUSet{Workers: 2 * time.Second, API: 900 * time.Millisecond, Postgres: -1, Redis: 950 * time.Millisecond, Bench: 990 * time.Millisecond})
}

func TestTopCounts(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	top := topCounts(map[string]int64{"b": 5, "a": 5, "c": 9, "d": 1}, 3)
	is.Equal(top, []namedCount{{"c", 9}, {"a", 5}, {"b", 5}}) // largest first, ties by name
	is.Equal(len(topCounts(map[string]int64{}, 3)), 0)
}

func TestWithApplicationName(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	u, err := withApplicationName("postgres://u@h:5432/db?sslmode=disable&search_path=s1", "wfr-bench-1")
	is.NoErr(err)
	is.True(strings.Contains(u, "application_name=wfr-bench-1"))
	is.True(strings.Contains(u, "search_path=s1")) // the rest is kept
	is.True(strings.Contains(u, "sslmode=disable"))
	u, err = withApplicationName("postgresql://h/db?application_name=other", "mine")
	is.NoErr(err)
	is.True(strings.Contains(u, "application_name=mine") && !strings.Contains(u, "other")) // replaced
	for _, bad := range []string{"sqlite://x.db", "host=h dbname=db", "://"} {
		_, err := withApplicationName(bad, "x")
		is.True(err != nil) // bad
	}
}

func TestWorkersConfigDefaultsAndIdeal(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := WorkersConfig{}.withDefaults()
	is.Equal(c.Workers, []int{1, 2, 4})
	is.Equal(c.Repeats, 3)
	is.Equal(c.Concurrency, 4)
	is.Equal(c.Delay, 20*time.Millisecond)
	is.Equal(c.ideal(1), 200.0) // 4 slots, each an execution per 20 ms
	is.Equal(c.ideal(4), 800.0)
	c.Repeats, c.ServeCommand, c.DatabaseURL, c.RedisURL = -1, []string{"x"}, "postgres://h/db", "redis://h"
	is.True(strings.Contains(c.validate().Error(), "--repeats"))
}

func TestWorkersReport(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := WorkersConfig{Repeats: 1, Concurrency: 4, Delay: 20 * time.Millisecond}
	usage := func(workersCPU time.Duration) Usage {
		return Usage{Executions: 1000, Statements: 6000, Transactions: 4000, RowsWritten: 3000, RedisCommands: 15000, RedisReads: 5000,
			CPU:         CPUSet{Workers: workersCPU, API: 300 * time.Millisecond, Postgres: time.Second, Redis: 200 * time.Millisecond, Bench: 100 * time.Millisecond},
			ByStatement: map[string]int64{"BEGIN": 2000, "UPDATE executions SET status = $1": 1000},
			ByCommand:   map[string]int64{"evalsha": 3000, "xadd": 1000}, Evicted: 3}
	}
	res := &WorkersResult{
		Statements: "pg_stat_statements",
		Rounds: []WorkersRound{
			{Repeat: 1, Workers: 1, Throughput: 180, Usage: usage(500 * time.Millisecond)},
			{Repeat: 1, Workers: 2, Throughput: 340, Usage: usage(500 * time.Millisecond)},
			{Repeat: 1, Workers: 4, Throughput: 560, Usage: usage(-1)},
		},
	}
	res.Scaling = scaling(res.Rounds, cfg.ideal)
	var out bytes.Buffer
	is.NoErr(writeWorkersReport(&out, res, cfg, 2))
	got := out.String()
	t.Log(got)
	for _, want := range []string{
		"ratio to 1 worker(s) in the same repeat",
		"1        180/s       180/s–180/s  200/s  0.90      22.22 ms   1.00   1.000       —",
		"2        340/s       340/s–340/s  400/s  0.85      23.53 ms   1.89   0.944       yes",
		"4        560/s       560/s–560/s  800/s  0.70      28.57 ms   3.11   0.778       no",
		"6.00           4.00             3.00          15.00           5.00         0.500 ms     0.300 ms  1.000 ms      0.200 ms   2.000 ms     0.100 ms   1000/s",
		"n/a          0.300 ms", // the workers' CPU unknown at 4
		"warning: pg_stat_statements evicted 9 entries",
		"2.00           BEGIN",
		"3.00           evalsha",
	} {
		is.True(strings.Contains(got, want)) // want
	}
	is.NoErr(writeWorkersReport(&bytes.Buffer{}, &WorkersResult{}, cfg, 2)) // nothing measured: nothing written
	is.Equal(slotTime(1, 4, 0), "n/a")

	out.Reset()
	is.NoErr(writeRoundLine(&out, WorkersRound{Repeat: 2, Workers: 4, Triggered: 10, Succeeded: 10, Throughput: 50, Duration: time.Minute,
		Cores: RoundCores{Machine: 1.2, Steal: -1, Workers: 0.5, API: 0, Postgres: -1, Redis: 0.1, Bench: 0}}, 800))
	is.True(strings.Contains(out.String(), "repeat 2, 4 workers: 10/10 succeeded"))
	is.True(strings.Contains(out.String(), "whole round (no steady window"))
	is.True(strings.Contains(out.String(), "postgres n/a"))
	is.True(strings.Contains(out.String(), "longer than the sweeper lets an execution wait"))
}

// pg_stat_statements counts statements on a server that preloads it (a throwaway one); the
// shared test server may not, and then the counts fall back to pg_stat_database.
func TestPGStatsCountsStatements(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	pg := testenv.StartPostgresWith(t, "shared_preload_libraries=pg_stat_statements")
	db, err := store.Open(t.Context(), pg.URL(), store.Options{MaxOpenConns: 1})
	is.NoErr(err)
	t.Cleanup(func() { _ = db.Close() })

	s := newPGStats(t.Context(), db)
	is.Equal(s.why, "")
	is.Equal(s.view, "public.pg_stat_statements") // created by newPGStats
	before, err := s.read(t.Context())
	is.NoErr(err)
	for range 5 {
		_, err := db.Bun().ExecContext(t.Context(), "SELECT 42 AS bench_probe")
		is.NoErr(err)
	}
	after, err := s.read(t.Context())
	is.NoErr(err)
	is.True(after.statements-before.statements >= 5+int64(s.statementsPerRead())) // the five and the first read's own
	u := usageOf(before, after, redisCounters{}, redisCounters{}, int64(s.statementsPerRead()), 0)
	is.True(u.ByStatement["SELECT $1 AS bench_probe"] == 5) // normalized text, counted once each

	shared := storetest.OpenPostgres(t)
	fallback := newPGStats(t.Context(), shared)
	is.True(fallback.view != "" || fallback.why != "") // either counts statements or says why not
	c, err := fallback.read(t.Context())
	is.NoErr(err)
	is.True(c.transactions > 0)
	if fallback.view == "" {
		is.Equal(c.statements, int64(-1))
		is.Equal(fallback.statementsPerRead(), 1)
	}
}
