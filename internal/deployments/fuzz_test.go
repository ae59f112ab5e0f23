package deployments

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// FuzzValidate: definition and trigger validation never panic, every violation names a field
// under definition or triggers, and a cron trigger deploy accepts is one the scheduler can
// build and fire (one parser for both).
//
//	go test -run=^$ -fuzz=^FuzzValidate$ -fuzztime=2m ./internal/deployments
func FuzzValidate(f *testing.F) {
	for _, s := range []struct{ nodes, cron, zone string }{
		{`[{"id":"a","type":"noop"}]`, "*/5 * * * *", "Europe/Berlin"},
		{`[{"id":"a","type":"noop","depends_on":["b"]},{"id":"b","type":"noop","depends_on":["a"]}]`, "@daily", ""},
		{`[{"id":"a","type":"http","params":{"url":"http://x/","headers":{"X-A":"1\r\nX-B: 2"}}}]`, "0 0 30 2 *", "UTC"},
		{`[{"id":"a","type":"http","params":{"headers":{"X-A\r\n":"1"}}}]`, "0 0 0 1 1 * 2270", ""},
		{`[{"id":"a","type":"http","params":{"headers":"nope"}}]`, "0 0 0 ? 1 MON#5 2027", ""},
		{`[{"id":"a\u0000","type":"teleport","params":{"k\u0000":"v\u0000"}}]`, "0 0 * * *\u0000", "Local"},
		{`[{"id":"a","type":"noop","params":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}]`, "0 0 0 1 1 ? 2020", "Nowhere/Land"},
	} {
		f.Add(s.nodes, s.cron, s.zone, uint32(300), uint8(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, nodesJSON, expr, zone string, window uint32, repeated, skipped uint8) {
		var nodes []Node
		if json.Unmarshal([]byte(nodesJSON), &nodes) != nil {
			nodes = nil
		}
		d := &Definition{ID: "wf", Nodes: nodes}
		v := &errdefs.ValidationError{}
		validateDefinition(v, "definition", d, DefaultNodeTypes)
		c := &CronSchedule{Expression: expr, Timezone: zone, JitterWindowSeconds: window, RepeatedHour: policy.RepeatedHour(repeated), SkippedHour: policy.SkippedHour(skipped)}
		now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		validateTriggers(v, "triggers", []Trigger{{ID: "c", Cron: c}}, "wf", now)
		cronOK := true
		for _, viol := range v.Violations {
			if !strings.HasPrefix(viol.Field, "definition.") && !strings.HasPrefix(viol.Field, "triggers[0].cron.") {
				t.Fatalf("violation on %q, outside the request's fields", viol.Field)
			}
			if strings.HasPrefix(viol.Field, "triggers[") {
				cronOK = false
			}
		}
		if !cronOK {
			return
		}
		tr, err := c.Trigger("wf")
		if err != nil {
			t.Fatalf("deploy accepted %q in %q, the scheduler refuses it: %v", expr, zone, err)
		}
		if _, err := tr.Next(now); err != nil && !errors.Is(err, quartz.ErrTriggerExpired) {
			t.Fatalf("deploy accepted %q, its next fire fails: %v", expr, err)
		} else if err != nil {
			t.Fatalf("deploy accepted %q, which never fires", expr)
		}
	})
}
