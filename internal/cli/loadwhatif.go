package cli

import (
	"cmp"
	"fmt"
	"strconv"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// defaultWhatIfTarget is the service's default target_peak_over_mean, for messages.
const defaultWhatIfTarget = 5

// whatIf reads load's --what-if file, one deployment as deploy reads it (YAML or JSON, "-" for
// stdin), into the request's what-if; nil without --what-if.
func (c *LoadCmd) whatIf(env *Env) (*v1.LoadWhatIf, error) {
	if c.WhatIf == "" {
		if c.Copies != 0 || c.Target != 0 {
			return nil, usagef("--copies and --target plan a --what-if deployment: name its file")
		}
		return nil, nil
	}
	docs, err := readManifests([]string{c.WhatIf}, false, env.Stdin)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, usagef("%s: --what-if plans one deployment, found %d", c.WhatIf, len(docs))
	}
	return &v1.LoadWhatIf{Deployment: docs[0].request, Copies: c.Copies, TargetPeakOverMean: c.Target}, nil
}

// printWhatIf writes the comparison of a what-if answer.
func (c *LoadCmd) printWhatIf(p *printer, w *v1.LoadWhatIfResult) {
	suggested := fmt.Sprintf("none keeps peak/mean within %s", strconv.FormatFloat(cmp.Or(c.Target, defaultWhatIfTarget), 'g', 3, 64))
	if s := w.GetSuggestedJitterWindow(); s != nil {
		suggested = fmt.Sprintf("%s (peak fires/s: %d)", s.AsDuration(), w.GetPeakFiresPerSecondWithSuggestedWindow())
	}
	p.println()
	p.fields(
		[2]string{"What-if fires", strconv.FormatInt(w.GetWhatIfFires(), 10)},
		[2]string{"Peak fires/s before", strconv.FormatInt(w.GetPeakFiresPerSecondBefore(), 10)},
		[2]string{"Peak fires/s after", fmt.Sprintf("%d (mean %s, peak/mean %s)", w.GetPeakFiresPerSecondAfter(),
			strconv.FormatFloat(w.GetMeanFiresPerSecondAfter(), 'g', 3, 64), strconv.FormatFloat(w.GetPeakOverMeanAfter(), 'g', 3, 64))},
		[2]string{"Peak fires/s, no jitter", strconv.FormatInt(w.GetPeakFiresPerSecondWithoutJitter(), 10)},
		[2]string{"Suggested jitter window", suggested},
	)
}
