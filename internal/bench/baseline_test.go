package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/bench"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// baselineServerEnv makes this test binary, started again by the trigger benchmark, serve the
// baseline as `workflow-runtime bench baseline-server` does (its last argument is the address).
const baselineServerEnv = "WFR_TEST_BASELINE_SERVER"

// serveEnv makes this test binary, started again by the workers benchmark, run the service as
// `workflow-runtime serve` does, configured by the WFR_* variables the benchmark sets.
const serveEnv = "WFR_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		os.Exit(serve())
	}
	if os.Getenv(baselineServerEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		err := bench.ServeBaseline(ctx, os.Args[len(os.Args)-1], os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serve runs the service until interrupted, as `workflow-runtime serve` does.
func serve() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config.Parse(nil, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logger, err := telemetry.NewLogger(os.Stdout, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := app.Run(ctx, cfg, logger); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestTriggerAgainstABaselineProcess(t *testing.T) {
	is := is.New(t)
	tb := setup(t)
	t.Setenv(baselineServerEnv, "1") // the baseline process inherits it and serves
	var out bytes.Buffer
	res, err := bench.RunTrigger(t.Context(), bench.TriggerConfig{
		Addr: tb.addr, Concurrency: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
		BaselineCommand: []string{os.Args[0]}, // "--addr ADDR" is appended: the address is last
	}, &out)
	is.NoErr(err)
	is.True(res.Baseline.Count > 0) // the baseline process answered
	is.Equal(res.Baseline.Errors, 0)
	is.True(res.Service.Count > 0)
	is.True(strings.Contains(out.String(), "baseline (minimal handler, own process)"))
}

func TestTriggerFailsWhenTheBaselineProcessDies(t *testing.T) {
	is := is.New(t)
	tb := setup(t)
	_, err := bench.RunTrigger(t.Context(), bench.TriggerConfig{
		Addr: tb.addr, Concurrency: 1, Duration: 100 * time.Millisecond,
		BaselineCommand: []string{"sh", "-c", "echo no such baseline >&2; exit 3", "sh"},
	}, &bytes.Buffer{})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "baseline process exited")) // said, not hung
	is.True(strings.Contains(err.Error(), "no such baseline"))        // with what it printed
}
