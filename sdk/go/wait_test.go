package runtime

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for s := range v1.ExecutionStatus_name {
		status := v1.ExecutionStatus(s)
		want := status != v1.ExecutionStatus_EXECUTION_STATUS_UNSPECIFIED &&
			status != v1.ExecutionStatus_EXECUTION_STATUS_PENDING &&
			status != v1.ExecutionStatus_EXECUTION_STATUS_RUNNING
		is.Equal(IsTerminal(status), want) // every status of the proto is classified
	}
}

// statuses answers GetExecution with the given statuses in turn (the last one from then on).
func statuses(list ...v1.ExecutionStatus) (func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error), *int) {
	n := 0
	return func(_ context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
		s := list[min(n, len(list)-1)]
		n++
		return &v1.GetExecutionResponse{Execution: &v1.Execution{Id: req.GetExecutionId(), Status: s}}, nil
	}, &n
}

// pollWait is WaitExecution's use of a pollWatcher: the last state seen.
func pollWait(ctx context.Context, get func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error), id string) (*v1.Execution, error) {
	var last *v1.Execution
	err := (&pollWatcher{get: get}).execution(ctx, id, func(e *v1.Execution) bool {
		last = e
		return true
	})
	return last, err
}

func TestPollWaiter(t *testing.T) {
	t.Parallel()

	t.Run("until terminal", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		get, n := statuses(v1.ExecutionStatus_EXECUTION_STATUS_PENDING, v1.ExecutionStatus_EXECUTION_STATUS_RUNNING,
			v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
		e, err := pollWait(t.Context(), get, "e1")
		is.NoErr(err)
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED) // a failure is an end too
		is.Equal(*n, 3)
	})
	t.Run("an error of the service ends it", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		e, err := pollWait(t.Context(), func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("no such execution"))
		}, "e1")
		is.True(e == nil)
		is.Equal(connect.CodeOf(err), connect.CodeNotFound)
	})
	t.Run("the context ends it with the last state seen", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		get, _ := statuses(v1.ExecutionStatus_EXECUTION_STATUS_RUNNING)
		e, err := pollWait(ctx, func(ctx context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
			defer cancel() // the caller gives up after the first answer
			return get(ctx, req)
		}, "e1")
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_RUNNING)
		is.Equal(connect.CodeOf(err), connect.CodeCanceled)
	})
	t.Run("a call cut by the context reports the context", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		_, err := pollWait(ctx, func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
			cancel()
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("connection reset"))
		}, "e1")
		is.Equal(connect.CodeOf(err), connect.CodeCanceled)
	})
}

func TestPollWatcherYieldsChanges(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const (
		pending = v1.ExecutionStatus_EXECUTION_STATUS_PENDING
		running = v1.ExecutionStatus_EXECUTION_STATUS_RUNNING
		done    = v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
	)
	get, n := statuses(pending, pending, running, running, running, done)
	var got []v1.ExecutionStatus
	err := (&pollWatcher{get: get}).execution(t.Context(), "e1", func(e *v1.Execution) bool {
		got = append(got, e.GetStatus())
		return true
	})
	is.NoErr(err)
	is.Equal(got, []v1.ExecutionStatus{pending, running, done}) // each state once
	is.Equal(*n, 6)

	err = (&pollWatcher{get: get}).execution(t.Context(), "e1", func(*v1.Execution) bool { return false })
	is.NoErr(err) // the caller stopping is no error
}

// history is an in-memory GetExecution and GetExecutionHistory of one deployment, for
// pollWatcher.deployment: newest first, filtered by status and creation time, in pages of two.
type history struct {
	executions map[string]*v1.Execution
}

func (h *history) get(_ context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
	e, ok := h.executions[req.GetExecutionId()]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such execution"))
	}
	return &v1.GetExecutionResponse{Execution: proto.Clone(e).(*v1.Execution)}, nil
}

func (h *history) list(_ context.Context, req *v1.GetExecutionHistoryRequest) (*v1.GetExecutionHistoryResponse, error) {
	var match []*v1.Execution
	for _, e := range h.executions {
		if len(req.GetStatuses()) > 0 && !slices.Contains(req.GetStatuses(), e.GetStatus()) {
			continue
		}
		if req.GetStartTime() != nil && e.GetCreateTime().AsTime().Before(req.GetStartTime().AsTime()) {
			continue
		}
		match = append(match, proto.Clone(e).(*v1.Execution))
	}
	slices.SortFunc(match, func(a, b *v1.Execution) int { // newest first; ties by id, so that pages hold still
		if c := b.GetCreateTime().AsTime().Compare(a.GetCreateTime().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(b.GetId(), a.GetId())
	})
	from, _ := strconv.Atoi(req.GetPageToken())
	res := &v1.GetExecutionHistoryResponse{Executions: match[from:min(from+2, len(match))]}
	if from+2 < len(match) {
		res.NextPageToken = strconv.Itoa(from + 2)
	}
	return res, nil
}

func (h *history) put(id string, created time.Time, s v1.ExecutionStatus) {
	h.executions[id] = &v1.Execution{Id: id, Status: s, CreateTime: timestamppb.New(created)}
}

func TestPollWatcherDeployment(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const (
		pending = v1.ExecutionStatus_EXECUTION_STATUS_PENDING
		running = v1.ExecutionStatus_EXECUTION_STATUS_RUNNING
		done    = v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
	)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h := &history{executions: map[string]*v1.Execution{}}
	h.put("ancient", t0.Add(-2*time.Hour), running) // unfinished, before any listed range
	h.put("old", t0.Add(-time.Second), done)        // ended before the watch
	h.put("busy", t0, running)
	h.put("queued", t0.Add(time.Second), pending)

	// Each state seen makes the next change, so the test needs no clock.
	var got []string
	next := map[string]func(){
		"ancient RUNNING": func() { h.put("busy", t0, done) },
		"busy SUCCEEDED":  func() { h.put("ancient", t0.Add(-2*time.Hour), done) },
		"ancient SUCCEEDED": func() {
			h.put("new", t0.Add(time.Minute), pending)
			h.put("new2", t0.Add(time.Minute), pending)
			h.put("new3", t0.Add(2*time.Minute), pending)
		},
	}
	w := &pollWatcher{get: h.get, list: h.list, every: time.Millisecond}
	err := w.deployment(t.Context(), "d1", func(e *v1.Execution) bool {
		key := e.GetId() + " " + strings.TrimPrefix(e.GetStatus().String(), "EXECUTION_STATUS_")
		got = append(got, key)
		if f := next[key]; f != nil {
			f()
		}
		return e.GetId() != "new3"
	})
	is.NoErr(err)
	is.Equal(got[:3], []string{"ancient RUNNING", "busy RUNNING", "queued PENDING"}) // the unfinished ones first, oldest first
	is.Equal(got[3], "busy SUCCEEDED")                                               // a change of a listed one
	is.Equal(got[4], "ancient SUCCEEDED")                                            // of one read by itself
	is.Equal(len(got), 8)                                                            // then the new ones; "old" never
	is.True(slices.Contains(got, "new PENDING") && slices.Contains(got, "new2 PENDING"))
	is.Equal(got[7], "new3 PENDING")

	h.executions = map[string]*v1.Execution{}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = w.deployment(ctx, "d1", func(*v1.Execution) bool { return true })
	is.Equal(connect.CodeOf(err), connect.CodeCanceled) // only the context ends it
}
