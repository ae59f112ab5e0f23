package monitoring

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
)

// Bucket counts of JitterDistribution.
const (
	DefaultJitterBuckets = 30
	MaxJitterBuckets     = 1000
)

// JitterQuery asks for JitterDistribution.
type JitterQuery struct {
	// BucketCount is the number of histogram buckets. Default DefaultJitterBuckets; at most
	// MaxJitterBuckets (larger values are capped).
	BucketCount int
	// WorkflowIDs are the workflows whose offsets are listed.
	WorkflowIDs []string
}

// JitterDistribution is the answer of JitterDistribution.
type JitterDistribution struct {
	// TriggerCount counts the triggers in the histogram: DEPLOYED cron triggers with jitter on
	// (a window of 0 has no offset to spread).
	TriggerCount int64
	// WindowSeconds is the window the bucket bounds are expressed in: the most common window
	// among the triggers (DefaultJitterWindowSeconds when there is none).
	WindowSeconds int
	// Buckets: bucket i holds the triggers whose offset / window lies in [i/n, (i+1)/n).
	Buckets []JitterBucket
	// ChiSquare is Pearson's statistic of Buckets against the uniform spread of integer offsets
	// over each trigger's window (exact for windows the bucket count does not divide).
	ChiSquare float64
	// MaxOverMean is the largest bucket over the mean bucket; 1 is perfectly even, 0 when empty.
	MaxOverMean float64
	// Offsets of the requested workflows: one per cron trigger when deployed, else one with
	// the default window and no trigger id.
	Offsets []WorkflowJitter
}

// JitterBucket is one histogram bucket.
type JitterBucket struct {
	// StartSeconds (inclusive) and EndSeconds (exclusive), in seconds of WindowSeconds.
	StartSeconds, EndSeconds float64
	Count                    int64
}

// WorkflowJitter is one trigger's offset.
type WorkflowJitter struct {
	WorkflowID    string
	TriggerID     string
	OffsetSeconds int
	WindowSeconds int
}

// JitterDistribution reports how the offsets of the DEPLOYED cron triggers spread.
func (s *Service) JitterDistribution(ctx context.Context, q *JitterQuery) (*JitterDistribution, error) {
	triggers, err := s.store.CronTriggerListDeployed(ctx)
	if err != nil {
		return nil, fmt.Errorf("jitter distribution: %w", err)
	}
	n := cmp.Or(q.BucketCount, DefaultJitterBuckets)
	n = min(max(n, 1), MaxJitterBuckets)
	return jitterDistribution(triggers, n, q.WorkflowIDs), nil
}

func jitterDistribution(triggers []CronTrigger, n int, workflowIDs []string) *JitterDistribution {
	counts := make([]int64, n)
	expected := make([]float64, n)
	// Triggers per window: the expected spread of a window is computed once.
	perWindow := map[int]int64{}
	for _, t := range triggers {
		w := t.JitterWindowSeconds
		if w <= 0 {
			continue
		}
		off := cron.JitterSeconds(t.WorkflowID, w)
		counts[bucketOf(off, w, n)]++
		perWindow[w]++
	}
	out := &JitterDistribution{WindowSeconds: cron.DefaultJitterWindowSeconds}
	var mode int64
	for _, w := range slices.Sorted(maps.Keys(perWindow)) {
		c := perWindow[w]
		out.TriggerCount += c
		if c > mode {
			mode, out.WindowSeconds = c, w
		}
		// Offsets are the integers 0..w-1, equally likely; bucket b holds those k with
		// floor(k*n/w) = b, that is ceil(b*w/n) <= k < ceil((b+1)*w/n).
		share := float64(c) / float64(w)
		for b := range n {
			expected[b] += share * float64(ceilDiv(int64(b+1)*int64(w), int64(n))-ceilDiv(int64(b)*int64(w), int64(n)))
		}
	}
	out.Buckets = make([]JitterBucket, n)
	width := float64(out.WindowSeconds) / float64(n)
	var top int64
	for i := range n {
		out.Buckets[i] = JitterBucket{StartSeconds: float64(i) * width, EndSeconds: float64(i+1) * width, Count: counts[i]}
		top = max(top, counts[i])
		if e := expected[i]; e > 0 {
			d := float64(counts[i]) - e
			out.ChiSquare += d * d / e
		}
	}
	if out.TriggerCount > 0 {
		out.MaxOverMean = float64(top) / (float64(out.TriggerCount) / float64(n))
	}

	byWorkflow := map[string][]CronTrigger{}
	for _, t := range triggers {
		byWorkflow[t.WorkflowID] = append(byWorkflow[t.WorkflowID], t)
	}
	for _, id := range workflowIDs {
		ts := byWorkflow[id]
		if len(ts) == 0 {
			w := cron.DefaultJitterWindowSeconds
			out.Offsets = append(out.Offsets, WorkflowJitter{WorkflowID: id, OffsetSeconds: cron.JitterSeconds(id, w), WindowSeconds: w})
			continue
		}
		for _, t := range ts {
			out.Offsets = append(out.Offsets, WorkflowJitter{
				WorkflowID: id, TriggerID: t.TriggerID,
				OffsetSeconds: cron.JitterSeconds(id, t.JitterWindowSeconds), WindowSeconds: t.JitterWindowSeconds,
			})
		}
	}
	return out
}

// bucketOf is the bucket of offset off in window w split into n: floor(off/w * n), in integers.
func bucketOf(off, w, n int) int {
	return int(int64(off) * int64(n) / int64(w))
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
