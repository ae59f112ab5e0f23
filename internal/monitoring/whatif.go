package monitoring

import (
	"cmp"
	"context"
	"crypto/md5" //nolint:gosec // md5 is the seed's jitter formula (cron.JitterSeconds), not a security measure.
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Defaults and bounds of a LoadWhatIf.
const (
	DefaultWhatIfTarget = 5.0
	MaxWhatIfCopies     = 100_000
	// MaxSuggestedJitterWindow bounds the window the what-if suggests, in seconds.
	MaxSuggestedJitterWindow = 86_400
	// MaxWhatIfFires caps copies x the what-if's cron times from MaxSuggestedJitterWindow before
	// the projection to its end: the fires a window search may have to place. More is
	// errdefs.ErrFailedPrecondition.
	MaxWhatIfFires = 5_000_000
)

// LoadWhatIf is a deployment that is not stored, projected next to the stored ones.
type LoadWhatIf struct {
	// WorkflowID of the first copy; copy k >= 2 is "<WorkflowID>-<k>". A deployed workflow with
	// one of these ids is replaced by the what-if in the projection.
	WorkflowID string
	// Triggers as DeployParams has them; the cron ones fire. Validate them first
	// (deployments.Service.Check): one that does not parse is errdefs.ErrFailedPrecondition here.
	Triggers []deployments.Trigger
	// Copies of the deployment. Default 1; at most MaxWhatIfCopies.
	Copies int
	// Target is the peak over mean (fires per second, over the window) the suggested jitter
	// window keeps to. Default DefaultWhatIfTarget.
	Target float64
}

// LoadWhatIfResult compares the load with and without the what-if.
type LoadWhatIfResult struct {
	// PeakBefore is the most fires in one second of the stored triggers, with jitter.
	PeakBefore int64
	// PeakAfter is the same with the what-if at its own jitter windows (a replaced deployment
	// left out); MeanAfter the fires per second over the window; PeakOverMeanAfter their ratio
	// (0 when nothing fires).
	PeakAfter         int64
	MeanAfter         float64
	PeakOverMeanAfter float64
	// PeakWithoutJitter is PeakAfter with the what-if's jitter windows at 0 s.
	PeakWithoutJitter int64
	// SuggestedWindowSeconds is the smallest jitter window (seconds) for every cron trigger of
	// the what-if that keeps the peak over mean at or under Target, when HasSuggestion.
	SuggestedWindowSeconds int
	HasSuggestion          bool
	// PeakWithSuggestedWindow is PeakAfter with the suggested window.
	PeakWithSuggestedWindow int64
	// Fires is the what-if's fires in the window (at its own jitter windows).
	Fires int64
}

// whatIfCron is one cron trigger of the what-if: its nominal times, in seconds from the
// projection's start, ascending.
type whatIfCron struct {
	window  int
	nominal []int64
	// covered marks the seconds of the projection its blackout calendars cover (a fire
	// scheduled there is recorded SKIPPED, not run); nil when it names none.
	covered []bool
}

// whatIfLoad places the what-if's fires on the per-second counts of the rest of the load.
type whatIfLoad struct {
	rest   []int64  // the stored triggers' fires per second, replaced deployments left out
	hashes []uint32 // per copy, the first four bytes of md5(workflow id)
	crons  []whatIfCron
	total  []int64 // scratch: rest plus the what-if
}

// whatIfIDs are the workflow ids of the copies.
// maxWorkflowIDLength is the longest workflow id (WorkflowDefinition.id's max_len).
const maxWorkflowIDLength = 128

func whatIfIDs(w *LoadWhatIf) []string {
	ids := make([]string, w.Copies)
	ids[0] = w.WorkflowID
	for k := 2; k <= w.Copies; k++ {
		ids[k-1] = w.WorkflowID + "-" + strconv.Itoa(k)
	}
	return ids
}

// whatIf answers the what-if of a projection whose stored triggers are all (their fires per
// second withJitter, left unchanged), and fills out.Buckets' FiresWithWhatIf.
func (s *Service) whatIf(ctx context.Context, all []CronTrigger, withJitter []int64, w LoadWhatIf, out *LoadDistribution) (*LoadWhatIfResult, error) {
	w.Copies = max(w.Copies, 1)
	if w.Copies > MaxWhatIfCopies {
		return nil, errdefs.Invalid("what_if.copies", "uint32.lte", "must be at most %d", MaxWhatIfCopies)
	}
	// The last copy's id must be a workflow id a deploy would take.
	if last := len(w.WorkflowID) + len("-") + len(strconv.Itoa(w.Copies)); w.Copies > 1 && last > maxWorkflowIDLength {
		return nil, errdefs.Invalid("what_if.copies", "copies.workflow_id_length",
			"copy %d would have the workflow id %q, longer than %d characters: shorten the workflow id or ask for fewer copies",
			w.Copies, w.WorkflowID+"-"+strconv.Itoa(w.Copies), maxWorkflowIDLength)
	}
	w.Target = cmp.Or(w.Target, DefaultWhatIfTarget)
	start, window := out.Start, out.Window
	seconds := int(window / time.Second)

	ids := whatIfIDs(&w)
	replaced := make(map[string]bool, len(ids))
	l := &whatIfLoad{hashes: make([]uint32, len(ids)), total: make([]int64, seconds)}
	for i, id := range ids {
		replaced[id] = true
		sum := md5.Sum([]byte(id)) //nolint:gosec // see the import.
		l.hashes[i] = binary.BigEndian.Uint32(sum[:4])
	}
	var gone []CronTrigger
	for _, t := range all {
		if replaced[t.WorkflowID] {
			gone = append(gone, t)
		}
	}
	l.rest = slices.Clone(withJitter)
	if len(gone) > 0 {
		goneFires, _, err := s.perSecond(ctx, gone, start, window)
		if err != nil {
			return nil, err
		}
		for i := range l.rest {
			l.rest[i] -= goneFires[i]
		}
	}
	if err := l.addCrons(w, start, window); err != nil {
		return nil, err
	}
	if err := s.coverWhatIf(ctx, l, w, start, window); err != nil {
		return nil, err
	}

	res := &LoadWhatIfResult{PeakBefore: out.PeakPerSecond}
	peak, sum := l.place(func(c whatIfCron) int { return c.window })
	res.PeakAfter, res.Fires = peak, sum-total(l.rest)
	res.MeanAfter = float64(sum) / float64(seconds)
	if sum > 0 {
		res.PeakOverMeanAfter = float64(peak) / res.MeanAfter
	}
	for i, n := range l.total {
		out.Buckets[int(time.Duration(i)*time.Second/out.Resolution)].FiresWithWhatIf += n
	}
	res.PeakWithoutJitter, _ = l.place(func(whatIfCron) int { return 0 })

	win, found, err := smallestWindow(MaxSuggestedJitterWindow, func(win int) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		peak, sum := l.place(func(whatIfCron) int { return win })
		return float64(peak)*float64(seconds) <= w.Target*float64(sum), nil
	})
	if err != nil {
		return nil, err
	}
	if found {
		res.HasSuggestion, res.SuggestedWindowSeconds = true, win
		res.PeakWithSuggestedWindow, _ = l.place(func(whatIfCron) int { return win })
	}
	return res, nil
}

// addCrons computes the nominal times of the what-if's cron triggers that can land in the
// window at any jitter window up to the largest the search or a trigger may use.
func (l *whatIfLoad) addCrons(w LoadWhatIf, start time.Time, window time.Duration) error {
	end := start.Add(window)
	var fires int
	for _, t := range w.Triggers {
		if t.Cron == nil {
			continue
		}
		c := t.Cron
		lookback := max(MaxSuggestedJitterWindow, int(c.JitterWindowSeconds))
		zero := int32(0)
		tr, err := cron.NewTrigger(cron.TriggerConfig{
			WorkflowID:          w.WorkflowID,
			Expression:          c.Expression,
			TimeZone:            cmp.Or(c.Timezone, deployments.DefaultTimezone),
			JitterWindowSeconds: &zero,
			RepeatedHour:        c.RepeatedHour,
			SkippedHour:         c.SkippedHour,
		})
		if err != nil {
			return fmt.Errorf("what-if trigger %q: %w: %w", t.ID, err, errdefs.ErrFailedPrecondition)
		}
		cron := whatIfCron{window: int(c.JitterWindowSeconds)}
		cursor := start.Add(-time.Duration(lookback) * time.Second).Add(-time.Nanosecond)
		for {
			f, err := tr.Next(cursor)
			if err != nil || !f.Nominal.Before(end) {
				break // expired, or past the window
			}
			cursor = f.Nominal
			if fires += len(l.hashes); fires > MaxWhatIfFires {
				return fmt.Errorf("the what-if would place more than %d fires (copies x its cron times from a day before the projection to its end); ask for fewer copies or a shorter window: %w",
					MaxWhatIfFires, errdefs.ErrFailedPrecondition)
			}
			// Floor to the second, as the per-second slots of the projection do.
			d := f.Nominal.Sub(start)
			sec := int64(d / time.Second)
			if d < 0 && d%time.Second != 0 {
				sec--
			}
			cron.nominal = append(cron.nominal, sec)
		}
		l.crons = append(l.crons, cron)
	}
	return nil
}

// place puts the what-if's fires, each cron trigger at the jitter window windowOf gives it, on
// the rest of the load into l.total, and returns the peak and the sum of l.total. Each copy only
// visits the nominal times its offset moves into the window: the work is the fires in the
// window plus a binary search per copy and trigger.
func (l *whatIfLoad) place(windowOf func(whatIfCron) int) (peak, sum int64) {
	copy(l.total, l.rest)
	seconds := int64(len(l.total))
	for _, c := range l.crons {
		w := uint32(max(windowOf(c), 0)) //nolint:gosec // at most MaxSuggestedJitterWindow or a uint32 window
		for _, h := range l.hashes {
			var off int64
			if w > 0 {
				off = int64(h % w)
			}
			// nominal + off in [0, seconds)
			i, _ := slices.BinarySearch(c.nominal, -off)
			for ; i < len(c.nominal) && c.nominal[i]+off < seconds; i++ {
				if c.covered != nil && c.covered[c.nominal[i]+off] {
					continue
				}
				l.total[c.nominal[i]+off]++
			}
		}
	}
	for _, n := range l.total {
		peak = max(peak, n)
		sum += n
	}
	return peak, sum
}

func total(counts []int64) (sum int64) {
	for _, n := range counts {
		sum += n
	}
	return sum
}

// smallestWindow returns the smallest w in [0, maxWindow] with ok(w), found false when
// ok(maxWindow) is false too. It assumes ok is monotone (false, then true), which a peak over
// mean that falls as the window widens roughly is: it tries 0, then doubles (1, 2, 4, ...,
// maxWindow) to the first w that is ok, then bisects between it and the last that was not. The
// answer was itself checked to be ok; where ok is not monotone, a smaller window may be ok too.
// About 2 log2(maxWindow) calls.
func smallestWindow(maxWindow int, ok func(w int) (bool, error)) (int, bool, error) {
	if good, err := ok(0); err != nil || good {
		return 0, good, err
	}
	lo, hi := 0, 0 // ok(lo) is false; ok(hi) is true once found
	for w := 1; ; w = min(w*2, maxWindow) {
		good, err := ok(w)
		if err != nil {
			return 0, false, err
		}
		if good {
			hi = w
			break
		}
		if w == maxWindow {
			return 0, false, nil
		}
		lo = w
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		good, err := ok(mid)
		if err != nil {
			return 0, false, err
		}
		if good {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true, nil
}

// coverWhatIf marks, for each cron trigger of the what-if that names blackout calendars, the
// seconds of the projection they cover, as the stored triggers' projection leaves covered
// fires out. A calendar that does not exist covers nothing (DeployWorkflow would refuse it).
func (s *Service) coverWhatIf(ctx context.Context, l *whatIfLoad, w LoadWhatIf, start time.Time, window time.Duration) error {
	groups := map[scheduleKey]map[int]int64{}
	i := 0
	keys := make([]string, len(l.crons))
	for _, t := range w.Triggers {
		if t.Cron == nil {
			continue
		}
		keys[i] = calendarKey(t.Cron.BlackoutCalendars)
		if keys[i] != "" {
			groups[scheduleKey{calendars: keys[i]}] = nil
		}
		i++
	}
	if len(groups) == 0 {
		return nil
	}
	sets, err := s.blackoutSets(ctx, groups)
	if err != nil {
		return err
	}
	seconds := int(window / time.Second)
	for i, k := range keys {
		set := sets[k]
		if len(set) == 0 {
			continue
		}
		covered := make([]bool, seconds)
		for sec := range covered {
			covered[sec] = set.Covering(start.Add(time.Duration(sec)*time.Second)) != ""
		}
		l.crons[i].covered = covered
	}
	return nil
}
