package scheduler

import (
	"fmt"
	"slices"
	"strings"
)

// firesBindingMore is the part of firesBinding for the filters of the ledger across
// deployments (workflows, trigger); empty when neither is set, so a token of a deployment's
// ledger issued before they existed still decodes.
func firesBindingMore(q *ListFiresQuery) string {
	if len(q.WorkflowIDs) == 0 && q.TriggerID == "" {
		return ""
	}
	wfs := slices.Compact(slices.Sorted(slices.Values(q.WorkflowIDs)))
	return fmt.Sprintf("\nw=%q\nt=%q", strings.Join(wfs, ","), q.TriggerID)
}
