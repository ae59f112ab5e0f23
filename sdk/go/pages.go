package runtime

import (
	"context"
	"iter"

	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// Deployments iterates over the deployments ListDeployments answers for req (nil: all of
// them), in its order (by workflow id), asking for the next page when the loop has used the
// last one. req's page_size sets the page size and its page_token where to start; req itself
// is not changed. An error ends the iteration: it is yielded once, as an *Error with a nil
// deployment.
//
//	for d, err := range client.Deployments(ctx, nil) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(d.GetWorkflowId(), d.GetStatus())
//	}
func (c *Client) Deployments(ctx context.Context, req *v1.ListDeploymentsRequest) iter.Seq2[*v1.Deployment, error] {
	return pages(ctx, req, c.service.ListDeployments,
		func(r *v1.ListDeploymentsRequest, token string) { r.PageToken = token },
		func(r *v1.ListDeploymentsResponse) ([]*v1.Deployment, string) {
			return r.GetDeployments(), r.GetNextPageToken()
		})
}

// Executions iterates over the executions GetExecutionHistory answers for req (its filters:
// deployment, workflow, statuses, trigger types, time range), newest first, page after page,
// as Deployments does.
func (c *Client) Executions(ctx context.Context, req *v1.GetExecutionHistoryRequest) iter.Seq2[*v1.Execution, error] {
	return pages(ctx, req, c.service.GetExecutionHistory,
		func(r *v1.GetExecutionHistoryRequest, token string) { r.PageToken = token },
		func(r *v1.GetExecutionHistoryResponse) ([]*v1.Execution, string) {
			return r.GetExecutions(), r.GetNextPageToken()
		})
}

// Fires iterates over a deployment's fire ledger as ListFires answers it for req (its
// deployment_id is required), page after page, as Deployments does.
func (c *Client) Fires(ctx context.Context, req *v1.ListFiresRequest) iter.Seq2[*v1.Fire, error] {
	return pages(ctx, req, c.service.ListFires,
		func(r *v1.ListFiresRequest, token string) { r.PageToken = token },
		func(r *v1.ListFiresResponse) ([]*v1.Fire, string) {
			return r.GetFires(), r.GetNextPageToken()
		})
}

// pages is the iterator of a paged list RPC: it calls list with a copy of req, yields the
// page's items, and goes on with the page's next token until there is none (or the service
// hands back the token it was given, which would loop forever).
func pages[Req interface {
	proto.Message
	GetPageToken() string
}, Res, Item any](
	ctx context.Context,
	req Req,
	list func(context.Context, Req) (Res, error),
	setToken func(Req, string),
	page func(Res) ([]Item, string),
) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		var zero Item
		r := req.ProtoReflect().New().Interface().(Req)
		if req.ProtoReflect().IsValid() {
			r = proto.Clone(req).(Req)
		}
		for {
			res, err := list(ctx, r)
			if err != nil {
				yield(zero, toError(err))
				return
			}
			items, next := page(res)
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if next == r.GetPageToken() {
				return
			}
			setToken(r, next)
		}
	}
}
