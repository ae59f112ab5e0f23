package api

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// FuzzTriggerData: checkJSONText never panics, and what it accepts is one JSON document
// without NUL characters that nests at most MaxJSONDepth levels.
//
//	go test -run=^$ -fuzz=^FuzzTriggerData$ -fuzztime=2m ./internal/api
func FuzzTriggerData(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"k":"v"}`, `[1,2,{"a":null}]`, `"s"`, `1e400`, `{`, `{} {}`, `{"a":1}x`,
		`{"k":"a\u0000"}`, `{"k\u0000":1}`, "\x00",
		strings.Repeat(`[`, 1001) + strings.Repeat(`]`, 1001),
		strings.Repeat(`{"a":`, 65) + `1` + strings.Repeat(`}`, 65),
		strings.Repeat(`{"a":`, 64) + `1` + strings.Repeat(`}`, 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if checkJSONText("trigger_data", text) != nil || text == "" {
			return
		}
		if !json.Valid([]byte(text)) {
			t.Fatalf("accepted %q, which is not JSON", text)
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if d := jsonDepth(v); d > MaxJSONDepth {
			t.Fatalf("accepted a document %d levels deep", d)
		}
		if strings.Contains(mustMarshal(t, v), `\u0000`) {
			t.Fatalf("accepted a NUL character in %q", text)
		}
	})
}

func jsonDepth(v any) int {
	switch x := v.(type) {
	case map[string]any:
		d := 0
		for _, e := range x {
			d = max(d, jsonDepth(e))
		}
		return d + 1
	case []any:
		d := 0
		for _, e := range x {
			d = max(d, jsonDepth(e))
		}
		return d + 1
	default:
		return 0
	}
}

func mustMarshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzRequestJSON: a request body read by the JSON codec and checked by checkInput never
// panics; what both accept holds no NUL and no unknown enum name read as a known one.
//
//	go test -run=^$ -fuzz=^FuzzRequestJSON$ -fuzztime=2m ./internal/api
func FuzzRequestJSON(f *testing.F) {
	for _, s := range []string{
		`{"definition":{"id":"wf","name":"a\u0000b","nodes":[{"id":"a","type":"noop","params":{"k":"\u0000"}}]}}`,
		`{"definition":{"id":"wf","nodes":[{"id":"a","type":"noop","params":` + strings.Repeat(`{"a":`, 1001) + `1` + strings.Repeat(`}`, 1001) + `}]}}`,
		`{"definition":{"id":"wf","nodes":[]},"config":{"overlapPolicy":"NOPE"}}`,
		`{"definition":{"id":"wf","nodes":[]},"triggers":[{"id":"c","cron":{"expression":"0 0 30 2 *","repeatedHour":"NOPE"}}]}`,
		`{"statuses":["NOPE"],"triggerTypes":["TRIGGER_TYPE_MANUAL",7]}`,
		`{"statuses":["EXECUTION_STATUS_RUNNING"],"unknownField":{"x":1}}`,
		`{"pageToken":"AQAGLtJ8Y9tQAZR0Z3ZwfPeH1vhzB0YXq7BjTFZuqJ8AAAAA"}`,
		`{"triggerData":"{\"k\":\"\\u0000\"}"}`,
		``, `[]`, `null`, `{"definition":null}`,
	} {
		f.Add(s)
	}
	codec := jsonCodec{name: "json"}
	f.Fuzz(func(t *testing.T, body string) {
		deploy := &v1.DeployWorkflowRequest{}
		if codec.Unmarshal([]byte(body), deploy) == nil {
			if checkInput(deploy) == nil && strings.Contains(deploy.String(), "\\x00") {
				t.Fatalf("a NUL passed checkInput: %v", deploy)
			}
			if p := deploy.GetConfig().GetOverlapPolicy(); p != 0 && v1.OverlapPolicy_name[int32(p)] == "" && int32(p) != unknownEnumNumber && strings.Contains(body, `"NOPE"`) {
				t.Fatalf("unknown name read as %d", p)
			}
		}
		history := &v1.GetExecutionHistoryRequest{}
		if codec.Unmarshal([]byte(body), history) == nil {
			_ = checkInput(history)
			for _, s := range history.GetStatuses() {
				if v1.ExecutionStatus_name[int32(s)] == "" && int32(s) != unknownEnumNumber && !strings.ContainsAny(body, "0123456789") {
					t.Fatalf("status %d from %q", s, body)
				}
			}
		}
	})
}
