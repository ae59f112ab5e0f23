package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary describes a set of latencies and the rate they were measured at.
type Summary struct {
	// Count is how many operations succeeded; Errors how many failed.
	Count, Errors int
	// Elapsed is the measuring window.
	Elapsed time.Duration
	// P50, P99, Max and Mean of the successful operations' latencies.
	P50, P99, Max, Mean time.Duration
}

// Throughput is successful operations per second over Elapsed.
func (s Summary) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Count) / s.Elapsed.Seconds()
}

// summarize sorts latencies in place and summarizes them.
func summarize(latencies []time.Duration, errors int, elapsed time.Duration) Summary {
	s := Summary{Count: len(latencies), Errors: errors, Elapsed: elapsed}
	if len(latencies) == 0 {
		return s
	}
	slices.Sort(latencies)
	var sum time.Duration
	for _, l := range latencies {
		sum += l
	}
	s.P50 = percentile(latencies, 0.50)
	s.P99 = percentile(latencies, 0.99)
	s.Max = latencies[len(latencies)-1]
	s.Mean = sum / time.Duration(len(latencies))
	return s
}

// percentile of sorted latencies, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// table writes rows as aligned columns, the first row being the header.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		if _, err := fmt.Fprintln(tw, strings.Join(r, "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// perSec formats a rate.
func perSec(v float64) string { return fmt.Sprintf("%.0f/s", v) }

// times formats a ratio.
func times(v float64) string { return fmt.Sprintf("%.2f", v) }
