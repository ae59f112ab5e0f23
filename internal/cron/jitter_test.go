package cron

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/matryer/is"
)

// The expected offsets were computed outside Go, with
//
//	python3 -c 'import hashlib;print(int(hashlib.md5("…".encode()).hexdigest()[:8],16)%300)'
//
// and the digests checked with md5sum (printf '%s' 'wf-日本語' | md5sum: a76d18dd…).
func TestJitterSecondsVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id               string
		w300, w60, w3600 int
	}{
		{"wf-1", 161, 41, 461},                                // e2292fed
		{"workflow-123", 37, 37, 37},                          // 99ba58a5
		{"", 193, 13, 1993},                                   // d41d8cd9
		{"daily-report", 299, 59, 599},                        // 1caf99b7: the top of the window
		{"wf-日本語", 161, 41, 1661},                             // a76d18dd
		{"ünïcödé", 187, 7, 3187},                             // c122dd63
		{"550e8400-e29b-41d4-a716-446655440000", 182, 2, 782}, // e8456cee
		{"🚀-launch", 212, 32, 812},                            // 6100e77c
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			is.Equal(JitterSeconds(tt.id, DefaultJitterWindowSeconds), tt.w300) // window 300
			is.Equal(JitterSeconds(tt.id, 60), tt.w60)                          // window 60
			is.Equal(JitterSeconds(tt.id, 3600), tt.w3600)                      // window 3600
			is.Equal(JitterSeconds(tt.id, 1), 0)                                // window 1
			is.Equal(JitterSeconds(tt.id, 0), 0)                                // jitter off
			is.Equal(JitterSeconds(tt.id, -5), 0)                               // negative: off
			is.Equal(JitterOffset(tt.id, 300), time.Duration(tt.w300)*time.Second)
		})
	}
}

// TestJitterUniform checks that 10,000 ids spread evenly over the 300 one-second buckets with a
// chi-square goodness-of-fit test. The ids are fixed, so the statistic is a constant (260.84,
// computed independently in Python); the test fails only if the formula changes.
func TestJitterUniform(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const n, window = 10_000, 300
	var counts [window]int
	for i := range n {
		counts[JitterSeconds(fmt.Sprintf("wf-%05d", i), window)]++
	}
	expected := float64(n) / window
	chi2 := 0.0
	for _, c := range counts {
		d := float64(c) - expected
		chi2 += d * d / expected
	}
	is.True(math.Abs(chi2-260.84) < 1e-6) // the statistic Python computed for the same ids
	// Critical value of chi-square with 299 degrees of freedom at significance 0.001
	// (Wilson-Hilferty approximation): 380.33.
	is.True(chi2 < 380.33) // uniform at the 0.1% level
}

func TestJitterSameIDSameOffset(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := newTestTrigger(t, TriggerConfig{WorkflowID: "wf-日本語", Expression: "*/5 * * * *", JitterWindowSeconds: new(int32(300))})
	b, err := NewTrigger(TriggerConfig{WorkflowID: "wf-日本語", Expression: "0 3 * * *", TimeZone: "Asia/Tokyo"})
	is.NoErr(err)
	is.Equal(a.Offset(), 161*time.Second) // explicit window
	is.Equal(b.Offset(), a.Offset())      // nil window is the default 300, same id same offset
}
