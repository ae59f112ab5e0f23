package runtime

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// listing pages through n deployments two at a time (tokens "2", "4", ...), failing with err
// once the page starting at failAt is asked for, and records the requests it got.
type listing struct {
	n, failAt int
	err       error
	stuck     bool // answer every page with the token it was given
	requests  []*v1.ListDeploymentsRequest
}

func (l *listing) list(_ context.Context, req *v1.ListDeploymentsRequest) (*v1.ListDeploymentsResponse, error) {
	l.requests = append(l.requests, req)
	start, _ := strconv.Atoi(req.GetPageToken())
	if l.err != nil && start >= l.failAt {
		return nil, l.err
	}
	res := &v1.ListDeploymentsResponse{}
	for i := start; i < min(start+2, l.n); i++ {
		res.Deployments = append(res.Deployments, &v1.Deployment{WorkflowId: "w" + strconv.Itoa(i)})
	}
	switch {
	case l.stuck:
		res.NextPageToken = req.GetPageToken()
	case start+2 < l.n:
		res.NextPageToken = strconv.Itoa(start + 2)
	}
	return res, nil
}

func (l *listing) seq(ctx context.Context, req *v1.ListDeploymentsRequest) func(func(*v1.Deployment, error) bool) {
	return pages(ctx, req, l.list,
		func(r *v1.ListDeploymentsRequest, token string) { r.PageToken = token },
		func(r *v1.ListDeploymentsResponse) ([]*v1.Deployment, string) {
			return r.GetDeployments(), r.GetNextPageToken()
		})
}

func TestPages(t *testing.T) {
	t.Parallel()

	t.Run("every page", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		l := &listing{n: 5}
		req := &v1.ListDeploymentsRequest{PageSize: 2}
		var got []string
		for d, err := range l.seq(t.Context(), req) {
			is.NoErr(err)
			got = append(got, d.GetWorkflowId())
		}
		is.Equal(got, []string{"w0", "w1", "w2", "w3", "w4"})
		is.Equal(len(l.requests), 3)
		is.Equal(l.requests[2].GetPageToken(), "4")
		is.Equal(l.requests[2].GetPageSize(), int32(2)) // the filters go along
		is.Equal(req.GetPageToken(), "")                // the caller's request is not changed
	})
	t.Run("nil request and an early break", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		l := &listing{n: 10}
		var got []string
		for d, err := range l.seq(t.Context(), nil) {
			is.NoErr(err)
			got = append(got, d.GetWorkflowId())
			if len(got) == 3 {
				break
			}
		}
		is.Equal(got, []string{"w0", "w1", "w2"})
		is.Equal(len(l.requests), 2) // no page is asked for that the loop does not use
	})
	t.Run("an error is yielded once and ends it", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		l := &listing{n: 10, failAt: 2, err: connect.NewError(connect.CodePermissionDenied, errors.New("needs read"))}
		var got []string
		var errs []error
		for d, err := range l.seq(t.Context(), nil) {
			if err != nil {
				errs = append(errs, err)
				is.True(d == nil)
				continue
			}
			got = append(got, d.GetWorkflowId())
		}
		is.Equal(got, []string{"w0", "w1"})
		is.Equal(len(errs), 1)
		var rerr *Error
		is.True(errors.As(errs[0], &rerr)) // an *Error
		is.Equal(rerr.Code, connect.CodePermissionDenied)
	})
	t.Run("a token handed back ends it", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		l := &listing{n: 10, stuck: true}
		n := 0
		for _, err := range l.seq(t.Context(), &v1.ListDeploymentsRequest{PageToken: "2"}) {
			is.NoErr(err)
			n++
		}
		is.Equal(n, 2)
		is.Equal(len(l.requests), 1)
	})
}
