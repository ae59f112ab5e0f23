package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// instanceID is the process's id in the instance registry, from its "workflow-runtime ready"
// log line.
func (p *proc) instanceID(t *testing.T) string {
	t.Helper()
	for _, line := range p.logLines() {
		if line["msg"] == "workflow-runtime ready" {
			if id, _ := line["instance_id"].(string); id != "" {
				return id
			}
		}
	}
	t.Fatalf("%s logged no instance id", p.name)
	return ""
}

// instances lists GetSystemHealth's instances by id.
func instances(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient) map[string]*v1.RoleInstance {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := api.GetSystemHealth(ctx, &v1.GetSystemHealthRequest{})
	if err != nil {
		t.Fatalf("get system health: %v", err)
	}
	out := map[string]*v1.RoleInstance{}
	for _, in := range resp.GetInstances() {
		out[in.GetId()] = in
	}
	return out
}

// TestInstanceRegistry: with the roles split over processes, GetSystemHealth lists every live
// instance by role with the address it serves on; the queue consumers are the workers' instance
// ids; a SIGKILLed worker drops out once its TTL has passed, a SIGTERMed one at once.
func TestInstanceRegistry(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	// A short TTL for the worker that is killed (ten heartbeats, so a loaded machine does not
	// drop it early); a long one for the worker that is stopped, so that only its
	// deregistration can explain its absence.
	const shortTTL, longTTL = "WFR_REGISTRY_TTL=3s", "WFR_REGISTRY_TTL=10m"
	procs := map[string]*proc{
		"api":       c.start("api", "api"),
		"scheduler": c.start("scheduler", "scheduler"),
		"engine":    c.start("engine", "engine"),
		"worker-a":  c.start("worker-a", "worker", "WFR_REGISTRY_HEARTBEAT=300ms", shortTTL, "WFR_WORKER_CONCURRENCY=7"),
		"worker-b":  c.start("worker-b", "worker", "WFR_REGISTRY_HEARTBEAT=1s", longTTL),
	}
	api := procs["api"].client()
	ids := map[string]string{}
	for name, p := range procs {
		ids[name] = p.instanceID(t)
	}

	// Every process registered before it said it was ready.
	listed := instances(t, api)
	is.Equal(len(listed), len(procs))
	wantRole := map[string]string{"api": "api", "scheduler": "scheduler", "engine": "engine", "worker-a": "worker", "worker-b": "worker"}
	for name, p := range procs {
		in := listed[ids[name]]
		if in == nil {
			t.Fatalf("%s (%s) is not listed", name, ids[name])
		}
		is.Equal(in.GetRole(), wantRole[name])
		is.Equal(in.GetAddress(), p.addr) // the bound address, not :0
		is.True(in.GetStartTime().IsValid())
		is.True(in.GetLastHeartbeat().IsValid())
		is.True(in.GetVersion() != "")
	}
	is.Equal(listed[ids["worker-a"]].GetSlotCapacity(), int32(7))
	is.Equal(listed[ids["worker-b"]].GetSlotCapacity(), int32(128))
	is.Equal(listed[ids["api"]].GetSlotCapacity(), int32(0))

	// /health says the same, grouped by role.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+procs["scheduler"].addr+"/health", nil)
	is.NoErr(err)
	res, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	var report struct {
		Instances map[string][]struct {
			ID      string `json:"id"`
			Address string `json:"address"`
		} `json:"instances"`
	}
	is.NoErr(json.NewDecoder(res.Body).Decode(&report))
	_ = res.Body.Close()
	is.Equal(len(report.Instances["worker"]), 2)
	is.Equal(len(report.Instances["api"]), 1)
	is.Equal(report.Instances["engine"][0].ID, ids["engine"])

	// The queue's consumers are the workers' instance ids.
	deploy(t, api, workflow{id: "registered", nodes: []*v1.Node{node(t, "a", "noop", nil)}})
	e := mustTrigger(t, api, "registered")
	waitExecution(t, api, e.GetId(), terminalTimeout, "terminal", isTerminal)
	opts, err := redis.ParseURL(c.redisURL)
	is.NoErr(err)
	rdb := redis.NewClient(opts)
	defer func() { _ = rdb.Close() }()
	consumers, err := rdb.XInfoConsumers(t.Context(), "wfr:queue:{executions}:stream", "workers").Result()
	is.NoErr(err)
	is.True(len(consumers) > 0) // the worker that ran it read under its name
	for _, cs := range consumers {
		is.True(cs.Name == ids["worker-a"] || cs.Name == ids["worker-b"]) // a worker's instance id
	}

	// SIGKILL: no deregistration; worker-a drops out once its TTL has passed.
	procs["worker-a"].kill(t)
	testenv.Poll(t, 30*time.Second, func() error {
		if listed = instances(t, api); listed[ids["worker-a"]] != nil {
			return errors.New("the killed worker is still listed (TTL 3s)")
		}
		return nil
	})
	is.Equal(len(listed), len(procs)-1) // the others stay
	is.True(listed[ids["worker-b"]] != nil)

	// SIGTERM: worker-b deregisters as it stops, long before its TTL of 10 minutes.
	procs["worker-b"].stop(t)
	listed = instances(t, api)
	is.True(listed[ids["worker-b"]] == nil)
	var roles []string
	for _, in := range listed {
		roles = append(roles, in.GetRole())
	}
	slices.Sort(roles)
	is.Equal(roles, []string{"api", "engine", "scheduler"})
}
