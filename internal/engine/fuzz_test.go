package engine

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// fuzzTimeout is the evaluation time limit in FuzzTransform (the default is 1 s; shorter keeps
// each input quick), and fuzzOvershoot how far past it an evaluation may return: the interrupt
// is checked every celInterruptCheckFrequency comprehension iterations, and a single call (a
// join, a sort) runs to its end, bounded by the string and list limits. The slack is wide
// because fuzzing workers share the machine's cores.
const (
	fuzzTimeout   = 250 * time.Millisecond
	fuzzOvershoot = 5 * time.Second
)

// FuzzTransform: a transform node compiles and evaluates any expression over any JSON input
// under the engine's limits without panicking, returns within the time limit (give or take
// fuzzOvershoot), and succeeds only with an output that is JSON of at most the node output
// limit. The committed corpus (testdata/fuzz/FuzzTransform) holds expressions that once built
// gigabytes: nested lists.range maps, strings grown by join and replace, a range over the list
// limit.
//
//	go test -run=^$ -fuzz=^FuzzTransform$ -fuzztime=2m ./internal/engine
func FuzzTransform(f *testing.F) {
	for _, s := range []struct{ expr, input string }{
		{`input.a + 1`, `{"a":1}`},
		{`deps.up.items.map(x, x * 2)`, `{"items":[1,2,3]}`},
		{`{"n": input.size(), "s": string(input.size())}`, `[1,2]`},
		{`1 / 0`, `null`},
		{`input.missing.field`, `{}`},
		{`base64.decode(input)`, `"!!"`},
		{`math.greatest(input)`, `[]`},
		{`sets.contains(input, [1])`, `[1,2]`},
		{`input.map(k, input[k]).sort()`, `{"b":2,"a":1}`},
		{`optional.of(input).orValue(0)`, `null`},
	} {
		f.Add(s.expr, []byte(s.input))
	}
	eng := New(Config{CELTimeout: fuzzTimeout, ProgramCacheSize: 1})
	f.Fuzz(func(t *testing.T, expr string, inputJSON []byte) {
		var input any
		if json.Unmarshal(inputJSON, &input) != nil {
			input = string(inputJSON) // not JSON: a string input instead
		}
		st, err := eng.prepareTransform(map[string]any{"expression": expr})
		if err != nil {
			if _, ok := errors.AsType[*paramError](err); !ok {
				t.Fatalf("compile %q: not a param error: %v", expr, err)
			}
			return
		}
		start := time.Now()
		out, err := st.run(t.Context(), &nodeInput{input: input, deps: map[string]any{"up": input}})
		if elapsed := time.Since(start); elapsed > fuzzTimeout+fuzzOvershoot {
			t.Fatalf("%q ran %s, time limit %s", expr, elapsed, fuzzTimeout)
		}
		if err != nil {
			if _, ok := errors.AsType[*nodeError](err); !ok {
				t.Fatalf("%q: not a node failure: %v", expr, err)
			}
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("%q: output is not JSON: %v", expr, err)
		}
		if int64(len(b)) > DefaultMaxNodeOutputBytes {
			t.Fatalf("%q: output of %d bytes, over the limit of %d", expr, len(b), DefaultMaxNodeOutputBytes)
		}
	})
}
