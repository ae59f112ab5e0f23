package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// slotExpr reads every field of trigger, as the docs show it.
const slotExpr = `{
  "type": trigger.type,
  "id": trigger.trigger_id,
  "nominal": has(trigger.nominal_time) ? string(trigger.nominal_time) : "none",
  "scheduled": trigger.?scheduled_time.orValue(null),
  "last": trigger.?last_success_nominal_time.orValue(null),
  "since": has(trigger.last_success_nominal_time) ? string(trigger.nominal_time - trigger.last_success_nominal_time) : "never",
  "hour": has(trigger.nominal_time) ? trigger.nominal_time.getHours() : -1
}`

func slotRequest(trig *Trigger) *Request {
	req := request("", node("slot", "transform", map[string]any{"expression": slotExpr}))
	req.Trigger = trig
	return req
}

var (
	nominal   = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	scheduled = nominal.Add(17 * time.Second)
	last      = nominal.Add(-time.Hour)
)

func TestTransformReadsTrigger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		trig *Trigger
		want map[string]any
	}{
		{"cron with a watermark", &Trigger{Type: TriggerCron, ID: "hourly", NominalTime: nominal, ScheduledTime: scheduled, LastSuccessNominalTime: last},
			map[string]any{"type": "CRON", "id": "hourly", "nominal": "2026-11-30T10:00:00Z", "scheduled": "2026-11-30T10:00:17Z",
				"last": "2026-11-30T09:00:00Z", "since": "3600s", "hour": 10.0}},
		{"cron, first slot", &Trigger{Type: TriggerCron, ID: "hourly", NominalTime: nominal, ScheduledTime: scheduled},
			map[string]any{"type": "CRON", "id": "hourly", "nominal": "2026-11-30T10:00:00Z", "scheduled": "2026-11-30T10:00:17Z",
				"last": nil, "since": "never", "hour": 10.0}},
		{"webhook", &Trigger{Type: TriggerWebhook, ID: "hook", NominalTime: scheduled, ScheduledTime: scheduled, LastSuccessNominalTime: last},
			map[string]any{"type": "WEBHOOK", "id": "hook", "nominal": "2026-11-30T10:00:17Z", "scheduled": "2026-11-30T10:00:17Z",
				"last": "2026-11-30T09:00:00Z", "since": "3617s", "hour": 10.0}},
		{"manual", &Trigger{Type: TriggerManual, NominalTime: scheduled.In(time.FixedZone("x", 3600)), ScheduledTime: scheduled},
			map[string]any{"type": "MANUAL", "id": "", "nominal": "2026-11-30T10:00:17Z", "scheduled": "2026-11-30T10:00:17Z",
				"last": nil, "since": "never", "hour": 10.0}}, // UTC, whatever the zone given
		{"no trigger context", nil,
			map[string]any{"type": "MANUAL", "id": "", "nominal": "none", "scheduled": nil, "last": nil, "since": "never", "hour": -1.0}},
		{"no type", &Trigger{ID: "x"},
			map[string]any{"type": "MANUAL", "id": "x", "nominal": "none", "scheduled": nil, "last": nil, "since": "never", "hour": -1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, Config{})
			res, err := b.eng.Execute(t.Context(), slotRequest(tt.trig))
			is.NoErr(err)
			is.Equal(output(t, res)["slot"], tt.want)
		})
	}
}

// TestTransformTriggerMissingWatermark: reading the watermark without has() fails the node like
// any missing key, not retryably, naming the key.
func TestTransformTriggerMissingWatermark(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	req := request("", node("t", "transform", map[string]any{"expression": `string(trigger.last_success_nominal_time)`}))
	req.Trigger = &Trigger{Type: TriggerCron, ID: "c", NominalTime: nominal, ScheduledTime: nominal}
	res, err := b.eng.Execute(t.Context(), req)
	is.NoErr(err)
	is.True(res.Failure != nil)
	is.Equal(res.Failure.NodeID, "t")
	is.True(!res.Failure.Retryable)
	is.True(strings.Contains(res.Failure.Message, "last_success_nominal_time"))
}

// TestTransformTriggerKeepsBounds: the trigger variable adds nothing the CEL bounds do not see:
// a string built from it is bounded like any other.
func TestTransformTriggerKeepsBounds(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{CELMaxStringBytes: 1024})
	req := request("", node("t", "transform", map[string]any{"expression": `trigger.type.repeat(1000)`}))
	req.Trigger = &Trigger{Type: TriggerCron, ID: "c", NominalTime: nominal}
	res, err := b.eng.Execute(t.Context(), req)
	is.NoErr(err)
	is.True(res.Failure != nil) // 4000 bytes > 1024
	is.True(!res.Failure.Retryable)
}

func TestValidateParamsKnowsTrigger(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	e := New(Config{})
	is.Equal(len(e.ValidateParams(&deployments.Definition{ID: "wf", Nodes: []deployments.Node{node("t", "transform", map[string]any{"expression": slotExpr})}})), 0)
}

// TestRemoteCarriesTrigger: the trigger context crosses the wire both ways unchanged, and an
// unset one is a manual trigger with no times on the engine's side too.
func TestRemoteCarriesTrigger(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			var mu sync.Mutex
			var seen []*Trigger
			b := setupRemote(t, proto, executorFunc(func(ctx context.Context, req *Request) (*Result, error) {
				mu.Lock()
				seen = append(seen, req.Trigger)
				mu.Unlock()
				return New(Config{}).Execute(ctx, req)
			}))
			full := &Trigger{Type: TriggerCron, ID: "hourly", NominalTime: nominal, ScheduledTime: scheduled, LastSuccessNominalTime: last}
			res, err := b.client.Execute(t.Context(), slotRequest(full))
			is.NoErr(err)
			is.Equal(output(t, res)["slot"].(map[string]any)["last"], "2026-11-30T09:00:00Z")
			_, err = b.client.Execute(t.Context(), slotRequest(&Trigger{Type: TriggerWebhook, ID: "hook", NominalTime: nominal, ScheduledTime: nominal}))
			is.NoErr(err)
			res, err = b.client.Execute(t.Context(), slotRequest(nil))
			is.NoErr(err)
			is.Equal(output(t, res)["slot"].(map[string]any)["nominal"], "none")
			mu.Lock()
			defer mu.Unlock()
			is.Equal(len(seen), 3)
			is.Equal(*seen[0], *full)
			is.Equal(*seen[1], Trigger{Type: TriggerWebhook, ID: "hook", NominalTime: nominal, ScheduledTime: nominal})
			is.True(seen[2] == nil)
		})
	}
}

func TestTriggerFromProtoUnknownType(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	p := triggerToProto(&Trigger{ID: "x"})
	p.Type = 99
	got := triggerFromProto(p)
	is.Equal(*got, Trigger{Type: TriggerManual, ID: "x"}) // unknown and unspecified types read as manual
}

// TestTriggerDocExample runs the expression of docs/api.md: a window from the watermark (or an
// hour before the slot, for the first) to the slot.
func TestTriggerDocExample(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	expr := `{"from": trigger.?last_success_nominal_time.orValue(trigger.nominal_time - duration("1h")), "to": trigger.nominal_time, "first": !has(trigger.last_success_nominal_time)}`
	slot := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		last time.Time
		want string
	}{
		{slot.Add(-time.Hour), `{"window":{"first":false,"from":"2026-11-30T10:00:00Z","to":"2026-11-30T11:00:00Z"}}`},
		{slot.Add(-3 * time.Hour), `{"window":{"first":false,"from":"2026-11-30T08:00:00Z","to":"2026-11-30T11:00:00Z"}}`},
		{time.Time{}, `{"window":{"first":true,"from":"2026-11-30T10:00:00Z","to":"2026-11-30T11:00:00Z"}}`},
	} {
		req := request("", node("window", "transform", map[string]any{"expression": expr}))
		req.Trigger = &Trigger{Type: TriggerCron, ID: "hourly", NominalTime: slot, ScheduledTime: slot.Add(157 * time.Second), LastSuccessNominalTime: tt.last}
		res, err := b.eng.Execute(t.Context(), req)
		is.NoErr(err)
		is.Equal(string(res.Output), tt.want)
	}
}
