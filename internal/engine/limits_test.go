package engine

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// CrashExpression is the expression that ended the process: about 1 KB of text whose result, a
// list of lists sharing one string, costs little to build and about 50 MB to encode as JSON.
// CrashJoinExpression joins such a list into one long string.
var (
	crashExpression     = `lists.range(50).map(i, lists.range(1000).map(j, "` + strings.Repeat("x", 960) + `"))`
	crashJoinExpression = `lists.range(2000).map(i, "` + strings.Repeat("x", 960) + `").join()`
)

// runExpr runs one transform node with expr on input under cfg and returns its failure (nil on
// success) and output.
func runExpr(t *testing.T, cfg Config, input, expr string) (*Failure, []byte) {
	t.Helper()
	res, err := New(cfg).Execute(t.Context(), request(input, node("t", "transform", map[string]any{"expression": expr})))
	if err != nil {
		t.Fatalf("execute %s: %v", expr, err)
	}
	return res.Failure, res.Output
}

// TestCELTimeLimit: an expression that would run for minutes under a cost limit that does not
// stop it ends with the time-limit failure, not retryable.
func TestCELTimeLimit(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := Config{CELTimeout: 50 * time.Millisecond, CELCostLimit: 1 << 62}
	start := time.Now()
	fail, _ := runExpr(t, cfg, "", `lists.range(100000).all(i, lists.range(100000).all(j, j >= 0))`)
	t.Logf("stopped after %s", time.Since(start))
	is.True(fail != nil)                                          // stopped
	is.True(strings.Contains(fail.Message, "time limit of 50ms")) // by the time limit
	is.True(!fail.Retryable)                                      // the same expression fails the same way
	is.Equal(fail.NodeID, "t")
}

// TestCELBuildLimits: each way to build a large string or list is refused while the program
// runs, with a message naming the limit.
func TestCELBuildLimits(t *testing.T) {
	t.Parallel()
	cfg := Config{CELMaxStringBytes: 1000, CELMaxListItems: 100}
	tests := []struct {
		name, input, expr, want string
	}{
		{"concatenation", `{"s":"` + strings.Repeat("a", 600) + `"}`, `input.s + input.s`, "builds a string of 1200 bytes"},
		{"join", "", `lists.range(100).map(i, "0123456789abcdef").join()`, "(join)"},
		{"join separator", "", `["a", "b"].join("` + strings.Repeat("-", 1001) + `")`, "(join)"},
		{"replace", `{"s":"` + strings.Repeat("a", 100) + `"}`, `input.s.replace("a", "` + strings.Repeat("b", 20) + `")`, "(replace)"},
		{"split", `{"s":"` + strings.Repeat("a", 200) + `"}`, `input.s.split("")`, "(split)"},
		{"format", "", `"%s".format([lists.range(100).map(i, "0123456789abcdef")])`, "(format)"},
		{"flatten", "", `lists.range(50).map(i, lists.range(50)).flatten()`, "(flatten)"},
		{"map", `{"xs":[` + strings.Repeat("0,", 150) + `0]}`, `input.xs.map(x, x)`, "a list of 101 elements"},
		{"range", "", `lists.range(101)`, "exceeds maximum"},
		{"list concatenation", "", `lists.range(100) + [1]`, "a list of 101 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			fail, _ := runExpr(t, cfg, tt.input, tt.expr)
			is.True(fail != nil) // refused
			t.Log(fail.Message)
			is.True(strings.Contains(fail.Message, tt.want)) // with the reason
			is.True(!fail.Retryable)
		})
	}
	t.Run("within the limits", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		fail, out := runExpr(t, cfg, "", `lists.range(100).map(i, "x").join().size() + lists.range(100).size()`)
		is.True(fail == nil)
		is.Equal(string(out), `{"t":200}`)
	})
}

// TestOutputLimits: a node output or the outputs of an execution larger than their limits fail
// the execution, not retryably, before the output is encoded.
func TestOutputLimits(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 200)
	t.Run("node", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		res, err := New(Config{MaxNodeOutputBytes: 100}).Execute(t.Context(),
			request("", node("a", "noop", map[string]any{"value": big})))
		is.NoErr(err)
		is.True(res.Failure != nil)
		is.Equal(res.Failure.NodeID, "a")
		is.True(strings.Contains(res.Failure.Message, "output too large")) // a size reason
		is.True(!res.Failure.Retryable)
	})
	t.Run("transform before conversion", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		fail, _ := runExpr(t, Config{MaxNodeOutputBytes: 1000}, "", `lists.range(20).map(i, lists.range(20).map(j, "abc"))`)
		is.True(fail != nil)
		is.True(strings.Contains(fail.Message, "more than the limit of 1000 bytes per node output"))
	})
	t.Run("execution", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		res, err := New(Config{MaxNodeOutputBytes: 300, MaxOutputBytes: 500}).Execute(t.Context(), request("",
			node("a", "noop", map[string]any{"value": big}),
			node("b", "noop", map[string]any{"value": big}),
			node("c", "noop", map[string]any{"value": big}, "a", "b"),
		))
		is.NoErr(err)
		is.True(res.Failure != nil)
		is.True(strings.Contains(res.Failure.Message, "limit of 500 bytes of JSON per execution"))
		is.True(!res.Failure.Retryable)
		is.True(res.Output == nil)
	})
}

// TestCrashExpressionBounded: the expressions that made a 100 MB output and, scaled up, ended
// the process in json.Marshal, fail at the defaults with a size reason, and what each run
// allocates in all stays under the documented bound (docs/configuration.md, "Engine": 64 MiB per
// running transform at the defaults).
func TestCrashExpressionBounded(t *testing.T) { // not parallel: it measures the allocations of each run
	for _, tt := range []struct{ name, expr, want string }{
		{"lists of a shared string", crashExpression, "output too large"},
		{"joined", crashJoinExpression, "builds a string of more than 1048576 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			fail, out := runExpr(t, Config{}, "", tt.expr)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("expression %d bytes; failure %q; allocated %.1f MiB", len(tt.expr), fail, float64(allocated)/(1<<20))
			is.True(fail != nil)
			is.True(out == nil)
			is.True(strings.Contains(fail.Message, tt.want)) // a size reason
			is.True(!fail.Retryable)
			is.True(allocated < 64<<20) // within the documented bound
		})
	}
}

// TestJSONSizeIsAnUpperBound: the walks never count less than encoding/json writes.
func TestJSONSizeIsAnUpperBound(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, v := range []any{
		nil, true, 1.5, -1.2345678901234567e-308, "plain", "quote\" back\\ nl\n <tag> & \x01 \u2028 é 日本 \xff",
		[]any{}, map[string]any{}, []any{1.0, "a", []any{nil}}, map[string]any{"k<": []any{"v", map[string]any{"x": false}}},
	} {
		b, err := json.Marshal(v)
		is.NoErr(err)
		is.True(jsonSize(v, 1<<30) >= int64(len(b))) // upper bound
	}
	is.Equal(stringJSONSize("ab\"<"), int64(len(`"ab\"\u003c"`)))                         // exact for strings
	is.True(jsonSize([]any{strings.Repeat("x", 100), strings.Repeat("y", 100)}, 10) > 10) // stops past the limit
}
