package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// Client is the service client every subcommand uses.
type Client = workflowruntimev1connect.WorkflowRuntimeServiceClient

// NewClient returns a client of the service at baseURL (http://host:port) speaking the Connect
// protocol with binary protobuf over cleartext HTTP/2 (prior knowledge), the way the API
// gateway does. Requests are not compressed; replies are accepted gzipped (connect's default).
func NewClient(baseURL string) Client {
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(newHTTPClient(), strings.TrimSuffix(baseURL, "/"))
}

func newHTTPClient() *http.Client {
	transport := &http.Transport{
		Protocols:           new(http.Protocols),
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	}
	transport.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: transport}
}

// deployNoop deploys workflowID (a new id unless the caller passed one) with one noop node,
// ALLOW_ALL (every execution runs; none is SKIPPED) and one attempt, and returns its id.
func deployNoop(ctx context.Context, c Client, workflowID, prefix string) (string, error) {
	if workflowID != "" {
		return workflowID, nil
	}
	return deployOneNode(ctx, c, prefix, &v1.Node{Id: "nothing", Type: "noop"})
}

// deployOneNode deploys a new workflow, prefix-<random>, of node alone, ALLOW_ALL and one
// attempt, and returns its id.
func deployOneNode(ctx context.Context, c Client, prefix string, node *v1.Node) (string, error) {
	id := prefix + "-" + randomID()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{
			Id:    id,
			Name:  "bench " + id,
			Nodes: []*v1.Node{node},
		},
		Config: &v1.DeploymentConfig{
			OverlapPolicy: v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL,
			RetryPolicy:   &v1.RetryPolicy{MaxAttempts: 1},
		},
	})
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", id, err)
	}
	return id, nil
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// triggerOnce triggers workflowID and returns the execution id.
func triggerOnce(ctx context.Context, c Client, workflowID string) (string, error) {
	resp, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
		Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: workflowID},
	})
	if err != nil {
		return "", err
	}
	return resp.GetExecution().GetId(), nil
}

// result is what a load loop measured.
type result struct {
	latencies []time.Duration
	errors    int
	firstErr  error
	elapsed   time.Duration
}

// collector gathers the outcome of operations from many goroutines.
type collector struct {
	mu  sync.Mutex
	res result
}

func (c *collector) add(d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.res.errors++
		if c.res.firstErr == nil {
			c.res.firstErr = err
		}
		return
	}
	c.res.latencies = append(c.res.latencies, d)
}

// closedLoop runs op from concurrency goroutines (callers 0 to concurrency-1) back to back for d (after warmup, whose
// operations are not counted) and returns what it measured.
func closedLoop(ctx context.Context, concurrency int, warmup, d time.Duration, op func(ctx context.Context, caller int) error) result {
	var col collector
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(d)
	var wg sync.WaitGroup
	for caller := range concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				err := op(ctx, caller)
				if t0.After(measureFrom) {
					col.add(time.Since(t0), err)
				}
			}
		})
	}
	wg.Wait()
	col.res.elapsed = min(time.Since(measureFrom), d)
	return col.res
}

// paced starts op at rate per second (every 1/rate, on a fixed schedule) until n were started
// (n > 0) or d has passed, each in a goroutine of at most concurrency at once; a full pool
// delays the schedule, which the achieved rate shows. rate 0 runs flat out.
func paced(ctx context.Context, rate float64, n int, d time.Duration, concurrency int, op func(context.Context) error) result {
	var (
		col   collector
		wg    sync.WaitGroup
		slots = make(chan struct{}, concurrency)
		start = time.Now()
	)
	for i := 0; ctx.Err() == nil; i++ {
		if n > 0 && i >= n {
			break
		}
		if rate > 0 {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if n <= 0 && at.Sub(start) >= d {
				break
			}
			if wait := time.Until(at); wait > 0 {
				time.Sleep(wait)
			}
		} else if n <= 0 && time.Since(start) >= d {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			t0 := time.Now()
			err := op(ctx)
			col.add(time.Since(t0), err)
		})
	}
	wg.Wait()
	col.res.elapsed = time.Since(start)
	return col.res
}
