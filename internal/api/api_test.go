package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/matryer/is"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/waitlist"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
)

// testBundle is the whole API stack on a real listener: store, domain services, the worker with
// the embedded engine and in-process backends, the handler and the HTTP server.
type testBundle struct {
	url     string
	http1   *http.Client // HTTP/1.1: Connect and gRPC-Web
	h2c     *http.Client // cleartext HTTP/2 with prior knowledge: gRPC
	watches *watch.Hub
}

// backend opens a fresh, migrated store for one test.
type backend struct {
	name string
	open func(t testing.TB) *store.DB
}

var (
	sqlite   = backend{"sqlite", storetest.OpenSQLite}
	postgres = backend{"postgres", storetest.OpenPostgres} // skipped without WFR_TEST_DATABASE_URL
)

func setup(t *testing.T, be backend) *testBundle {
	t.Helper()
	return setupWith(t, be, nil)
}

// setupWith is setup with the server's configuration changed by edit (nil: none).
func setupWith(t *testing.T, be backend, edit func(*config.Config)) *testBundle {
	t.Helper()
	db := be.open(t) // closed last: its cleanup was registered first
	logger := slog.New(slog.DiscardHandler)

	q := queue.NewLocalQueue(queue.LocalConfig{MoveInterval: 20 * time.Millisecond})
	notifier := notify.NewLocal()
	eng := engine.New(engine.Config{})
	worker := execution.NewWorker(db, q, lock.NewLocalManager(lock.LocalConfig{}), eng, waitlist.NewLocal(), notifier,
		execution.WorkerConfig{Concurrency: 4, ReceiveBlock: 100 * time.Millisecond, Logger: logger})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Stop)
	if err := worker.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(worker.Stop)

	checker := health.NewChecker(health.Options{Version: "test"})
	checker.Register("database", db.Ping)
	watches := watch.New(db, notifier, watch.Config{Logger: logger})
	handler := api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes()}),
		Executions:  execution.NewService(db, q, notifier, execution.ServiceConfig{Logger: logger}),
		Health:      checker,
		Monitoring:  monitoring.NewService(db, monitoring.ServiceConfig{Logger: logger}),
		Watches:     watches,
		Logger:      logger,
	})

	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownGrace = 5 * time.Second
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := httpserver.New(cfg, handler, checker, logger)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) }) // no request outlives the store
	t.Cleanup(watches.Stop)                                  // first to run: streams end, so Stop need not wait

	h1 := &http.Transport{}
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	return &testBundle{url: srv.URL(), http1: &http.Client{Transport: h1}, h2c: &http.Client{Transport: h2}, watches: watches}
}

type client = workflowruntimev1connect.WorkflowRuntimeServiceClient

// protocols are the four ways a client reaches the service; every check runs over each.
var protocols = []struct {
	name string
	h2c  bool
	opts []connect.ClientOption
}{
	{"connect-json", false, []connect.ClientOption{connect.WithProtoJSON()}},
	{"connect-proto", false, nil},
	{"grpc", true, []connect.ClientOption{connect.WithGRPC()}},
	{"grpc-web", false, []connect.ClientOption{connect.WithGRPCWeb()}},
}

// eachProtocol runs check once per backend and protocol, in parallel, each on a stack of its own.
func eachProtocol(t *testing.T, backends []backend, check func(t *testing.T, c client)) {
	t.Helper()
	for _, be := range backends {
		for _, p := range protocols {
			t.Run(be.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				hc := b.http1
				if p.h2c {
					hc = b.h2c
				}
				check(t, workflowruntimev1connect.NewWorkflowRuntimeServiceClient(hc, b.url, p.opts...))
			})
		}
	}
}

// node builds a Node; params may be nil.
func node(t *testing.T, id, typ string, params map[string]any, dependsOn ...string) *v1.Node {
	t.Helper()
	n := &v1.Node{Id: id, Type: typ, DependsOn: dependsOn}
	if params != nil {
		s, err := structpb.NewStruct(params)
		if err != nil {
			t.Fatal(err)
		}
		n.Params = s
	}
	return n
}

// hello is a one-node workflow whose output is {"a":"hello"}.
func hello(t *testing.T, id string) *v1.WorkflowDefinition {
	return &v1.WorkflowDefinition{Id: id, Nodes: []*v1.Node{node(t, "a", "noop", map[string]any{"value": "hello"})}}
}

func webhook(id, path string) *v1.Trigger {
	return &v1.Trigger{Id: id, Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: path}}}
}

func cronTrigger(id, expr, tz string) *v1.Trigger {
	return &v1.Trigger{Id: id, Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{Expression: expr, Timezone: tz}}}
}

func deploy(t *testing.T, c client, req *v1.DeployWorkflowRequest) *v1.Deployment {
	t.Helper()
	res, err := c.DeployWorkflow(t.Context(), req)
	if err != nil {
		t.Fatalf("deploy %s: %v", req.GetDefinition().GetId(), err)
	}
	return res.GetDeployment()
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

// violations returns the buf.validate.Violations detail of err, rendered as "field|rule_id".
func violations(t *testing.T, err error) []string {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("not a connect error: %v", err)
	}
	var out []string
	for _, d := range cerr.Details() {
		msg, derr := d.Value()
		if derr != nil {
			t.Fatalf("error detail %s: %v", d.Type(), derr)
		}
		vs, ok := msg.(*validate.Violations)
		if !ok {
			continue
		}
		for _, v := range vs.GetViolations() {
			out = append(out, fieldPath(v.GetField())+"|"+v.GetRuleId())
		}
	}
	return out
}

// fieldPath renders a buf.validate.FieldPath as "triggers[0].cron.expression".
func fieldPath(p *validate.FieldPath) string {
	var sb strings.Builder
	for i, e := range p.GetElements() {
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(e.GetFieldName())
		if _, ok := e.GetSubscript().(*validate.FieldPathElement_Index); ok {
			fmt.Fprintf(&sb, "[%d]", e.GetIndex())
		}
	}
	return sb.String()
}

// waitStatus follows the execution with WatchExecutions until it reaches want, for at most
// 10 s.
func waitStatus(t *testing.T, c client, id string, want v1.ExecutionStatus) *v1.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := c.WatchExecutions(ctx, byExecution(id))
	if err != nil {
		t.Fatalf("watch execution %s: %v", id, err)
	}
	defer func() { _ = s.Close() }()
	var e *v1.Execution
	for s.Receive() {
		if e = s.Msg().GetExecution(); e.GetStatus() == want {
			return e
		}
	}
	t.Fatalf("execution %s is %s, want %s (error %q); the watch ended: %v", id, e.GetStatus(), want, e.GetError(), s.Err())
	return nil
}

func TestDeployAndGet(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite, postgres}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := t.Context()

		res, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
			Definition: hello(t, "orders"),
			Triggers:   []*v1.Trigger{webhook("in", "orders/in"), cronTrigger("nightly", "0 3 * * *", "Europe/Berlin")},
		})
		is.NoErr(err)
		is.True(res.GetCreated()) // a new deployment
		d1 := res.GetDeployment()
		is.Equal(d1.GetRevision(), int32(1))
		is.Equal(d1.GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED)
		is.Equal(d1.GetWorkflowId(), "orders")
		is.True(d1.GetDeployedAt() != nil)
		is.True(proto.Equal(d1.GetDefinition(), hello(t, "orders"))) // the definition as given
		is.Equal(len(d1.GetTriggers()), 2)
		is.Equal(d1.GetConfig().GetOverlapPolicy(), v1.OverlapPolicy_OVERLAP_POLICY_SKIP) // defaults filled in
		_, err = uuid.Parse(d1.GetId())
		is.NoErr(err) // server-assigned UUID

		def2 := hello(t, "orders")
		def2.Name = "Orders, second revision"
		res, err = c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{Definition: def2})
		is.NoErr(err)
		is.True(!res.GetCreated())                        // a revision of the existing deployment
		is.Equal(res.GetDeployment().GetId(), d1.GetId()) // same deployment
		is.Equal(res.GetDeployment().GetRevision(), int32(2))
		is.Equal(len(res.GetDeployment().GetTriggers()), 0) // triggers replaced by none

		byID, err := c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: d1.GetId()}})
		is.NoErr(err)
		byWorkflow, err := c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: "orders"}})
		is.NoErr(err)
		is.True(proto.Equal(byID.GetDeployment(), byWorkflow.GetDeployment())) // one deployment, two ways
		is.Equal(byID.GetDeployment().GetRevision(), int32(2))
		is.True(proto.Equal(byID.GetDeployment().GetDefinition(), def2)) // the current revision
	})
}

func TestListDeployments(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite, postgres}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := t.Context()
		var deployed []string
		for i := range 7 {
			id := fmt.Sprintf("wf-%d", i)
			deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, id)})
			deployed = append(deployed, id)
		}
		for _, id := range []string{"draft-a", "draft-b"} {
			d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, id), Draft: true})
			is.Equal(d.GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DRAFT)
		}

		// DEPLOYED, three per page: 3 + 3 + 1, in workflow id order.
		var got []string
		token := ""
		for page := 1; ; page++ {
			res, err := c.ListDeployments(ctx, &v1.ListDeploymentsRequest{
				Statuses:  []v1.DeploymentStatus{v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED},
				PageSize:  3,
				PageToken: token,
			})
			is.NoErr(err)
			for _, d := range res.GetDeployments() {
				is.Equal(d.GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED) // filtered
				got = append(got, d.GetWorkflowId())
			}
			token = res.GetNextPageToken()
			if page < 3 {
				is.Equal(len(res.GetDeployments()), 3) // full page
				is.True(token != "")                   // more to come
				continue
			}
			is.Equal(len(res.GetDeployments()), 1) // the last page
			is.Equal(token, "")                    // no page after the third
			break
		}
		is.Equal(got, deployed) // every DEPLOYED one once, ordered

		res, err := c.ListDeployments(ctx, &v1.ListDeploymentsRequest{Statuses: []v1.DeploymentStatus{v1.DeploymentStatus_DEPLOYMENT_STATUS_DRAFT}})
		is.NoErr(err)
		is.Equal(len(res.GetDeployments()), 2) // the drafts only
		is.Equal(res.GetNextPageToken(), "")

		res, err = c.ListDeployments(ctx, &v1.ListDeploymentsRequest{})
		is.NoErr(err)
		is.Equal(len(res.GetDeployments()), 9) // no filter: all
	})
}

func TestUpdateDeployment(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite, postgres}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := t.Context()
		d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "upd"), Triggers: []*v1.Trigger{webhook("in", "upd/in")}})
		update := func(req *v1.UpdateDeploymentRequest) *v1.Deployment {
			t.Helper()
			req.DeploymentId = d.GetId()
			res, err := c.UpdateDeployment(ctx, req)
			is.NoErr(err)
			return res.GetDeployment()
		}

		got := update(&v1.UpdateDeploymentRequest{Status: v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, UpdateMask: mask("status")})
		is.Equal(got.GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED) // paused
		is.Equal(got.GetRevision(), int32(1))                                   // no new revision

		got = update(&v1.UpdateDeploymentRequest{Status: v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED, UpdateMask: mask("status")})
		is.Equal(got.GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED) // resumed

		def := &v1.WorkflowDefinition{Id: "upd", Nodes: []*v1.Node{
			node(t, "a", "noop", map[string]any{"value": 1}),
			node(t, "b", "noop", nil, "a"),
		}}
		got = update(&v1.UpdateDeploymentRequest{Definition: def, UpdateMask: mask("definition")})
		is.Equal(got.GetRevision(), int32(2)) // a new revision
		is.True(proto.Equal(got.GetDefinition(), def))
		is.Equal(len(got.GetTriggers()), 1) // triggers untouched

		triggers := []*v1.Trigger{cronTrigger("hourly", "@hourly", "")}
		got = update(&v1.UpdateDeploymentRequest{Triggers: triggers, UpdateMask: mask("triggers")})
		is.Equal(len(got.GetTriggers()), 1)
		is.Equal(got.GetTriggers()[0].GetId(), "hourly")
		is.Equal(got.GetTriggers()[0].GetCron().GetExpression(), "@hourly") // replaced
		is.Equal(got.GetTriggers()[0].GetCron().GetTimezone(), "UTC")       // default filled in

		// Only masked paths change: status is set but not in the mask.
		got = update(&v1.UpdateDeploymentRequest{
			Status:     v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED,
			Config:     &v1.DeploymentConfig{OverlapPolicy: v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, ExecutionTimeout: durationpb.New(time.Minute)},
			UpdateMask: mask("config"),
		})
		is.Equal(got.GetConfig().GetOverlapPolicy(), v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL)
		is.Equal(got.GetConfig().GetExecutionTimeout().AsDuration(), time.Minute)
		is.Equal(got.GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED) // status not in the mask
		is.Equal(got.GetRevision(), int32(2))

		stored, err := c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: d.GetId()}})
		is.NoErr(err)
		is.True(proto.Equal(stored.GetDeployment().GetConfig(), got.GetConfig())) // the update was stored
		is.True(proto.Equal(stored.GetDeployment().GetDefinition(), def))
	})
}

func TestDeleteAndErrorCodes(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite, postgres}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := t.Context()
		d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "gone"), Triggers: []*v1.Trigger{webhook("in", "shared/path")}})

		// The webhook path belongs to "gone" while it lives.
		_, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{Definition: hello(t, "other"), Triggers: []*v1.Trigger{webhook("in", "shared/path")}})
		is.Equal(connect.CodeOf(err), connect.CodeAlreadyExists) // webhook path taken

		for range 2 {
			res, err := c.DeleteDeployment(ctx, &v1.DeleteDeploymentRequest{DeploymentId: d.GetId()})
			is.NoErr(err) // idempotent
			is.Equal(res.GetDeployment().GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_ARCHIVED)
			is.Equal(len(res.GetDeployment().GetTriggers()), 0) // triggers removed
		}

		_, err = c.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{
			DeploymentId: d.GetId(), Status: v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED, UpdateMask: mask("status"),
		})
		is.Equal(connect.CodeOf(err), connect.CodeFailedPrecondition) // archived: only a deploy revives it

		// Archiving freed the path.
		other := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "other"), Triggers: []*v1.Trigger{webhook("in", "shared/path")}})
		is.Equal(other.GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED)

		unknown := uuid.NewString()
		_, err = c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: unknown}})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // by id
		_, err = c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: "nope"}})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // by workflow id
		_, err = c.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{DeploymentId: unknown, Status: v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, UpdateMask: mask("status")})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // update
		_, err = c.DeleteDeployment(ctx, &v1.DeleteDeploymentRequest{DeploymentId: unknown})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // delete
	})
}

func TestInvalidArgument(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite}, func(t *testing.T, c client) {
		ctx := t.Context()
		deployWith := func(def *v1.WorkflowDefinition, triggers ...*v1.Trigger) func() error {
			return func() error {
				_, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{Definition: def, Triggers: triggers})
				return err
			}
		}
		validDef := hello(t, "valid")
		tests := []struct {
			name string
			call func() error
			want string // field|rule_id
		}{
			{"duplicate node ids", deployWith(&v1.WorkflowDefinition{Id: "dup", Nodes: []*v1.Node{
				node(t, "a", "noop", nil), node(t, "a", "noop", nil),
			}}), "definition.nodes|nodes.unique_ids"},
			{"depends on a missing node", deployWith(&v1.WorkflowDefinition{Id: "missing", Nodes: []*v1.Node{
				node(t, "a", "noop", nil, "ghost"),
			}}), "definition.nodes|nodes.depends_on_exist"},
			{"cycle", deployWith(&v1.WorkflowDefinition{Id: "cycle", Nodes: []*v1.Node{
				node(t, "a", "noop", nil, "c"), node(t, "b", "noop", nil, "a"), node(t, "c", "noop", nil, "b"),
			}}), "definition.nodes|nodes.acyclic"},
			{"unknown node type", deployWith(&v1.WorkflowDefinition{Id: "unknown-type", Nodes: []*v1.Node{
				node(t, "a", "teleport", nil),
			}}), "definition.nodes[0].type|node.type_known"},
			{"unparsable cron", deployWith(validDef, cronTrigger("c", "not a cron", "UTC")), "triggers[0].cron.expression|cron.parse"},
			{"unknown timezone", deployWith(validDef, cronTrigger("c", "@daily", "Mars/Olympus_Mons")), "triggers[0].cron.timezone|timezone.iana"},
			{"bad workflow id", deployWith(hello(t, "Bad_ID!")), "definition.id|string.pattern"},
			{"update mask path", func() error {
				_, err := c.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{DeploymentId: uuid.NewString(), UpdateMask: mask("revision")})
				return err
			}, "update_mask|field_mask.in"},
			{"page size over 1000", func() error {
				_, err := c.ListDeployments(ctx, &v1.ListDeploymentsRequest{PageSize: 1001})
				return err
			}, "page_size|int32.gte_lte"},
			{"tampered page token", func() error {
				_, err := c.ListDeployments(ctx, &v1.ListDeploymentsRequest{PageToken: "bm90LWEtdG9rZW4"})
				return err
			}, "page_token|page_token.valid"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				is := is.New(t)
				err := tt.call()
				is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument) // refused
				vs := violations(t, err)
				is.True(len(vs) > 0) // a buf.validate.Violations detail
				is.Equal(vs[0], tt.want)
			})
		}

		// Nothing was stored.
		is := is.New(t)
		res, err := c.ListDeployments(ctx, &v1.ListDeploymentsRequest{})
		is.NoErr(err)
		is.Equal(len(res.GetDeployments()), 0) // no deployment
		for _, id := range []string{"dup", "missing", "cycle", "unknown-type", "valid"} {
			_, err = c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: id}})
			is.Equal(connect.CodeOf(err), connect.CodeNotFound) // id
		}
	})
}

func TestTriggerInvalidArgument(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite}, func(t *testing.T, c client) {
		ctx := t.Context()
		deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "target")})
		tests := []struct {
			name string
			data string
			want string
		}{
			{"not JSON", "{not json", "trigger_data|string.json"},
			// 1.5 MiB: under the server's 4 MiB request limit, so it reaches validation.
			{"over 1 MiB", `"` + strings.Repeat("x", 3<<19) + `"`, "trigger_data|string.max_bytes"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				is := is.New(t)
				_, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "target"}, TriggerData: tt.data})
				is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument) // refused
				vs := violations(t, err)
				is.True(len(vs) > 0) // a buf.validate.Violations detail
				is.Equal(vs[0], tt.want)
			})
		}
	})
}

func TestTriggerAndRun(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite, postgres}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := t.Context()
		d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "runme")})

		res, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
			Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "runme"},
			TriggerData:    `{"order":42}`,
			IdempotencyKey: "order-42",
		})
		is.NoErr(err)
		is.True(!res.GetDeduplicated())
		e := res.GetExecution()
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_PENDING) // recorded and queued
		is.Equal(e.GetTriggerType(), v1.TriggerType_TRIGGER_TYPE_MANUAL)
		is.Equal(e.GetDeploymentId(), d.GetId())
		is.Equal(e.GetRevision(), int32(1))
		is.Equal(e.GetTriggerData(), `{"order":42}`)

		done := waitStatus(t, c, e.GetId(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
		var out map[string]any
		is.NoErr(json.Unmarshal([]byte(done.GetOutput()), &out))
		is.Equal(out, map[string]any{"a": "hello"}) // the sink node's output
		is.True(done.GetStartTime() != nil && done.GetFinishTime() != nil)
		is.Equal(done.GetAttempt(), int32(1))

		again, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
			Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "runme"},
			IdempotencyKey: "order-42",
		})
		is.NoErr(err)
		is.True(again.GetDeduplicated())                  // the key was used
		is.Equal(again.GetExecution().GetId(), e.GetId()) // the first execution
		is.Equal(again.GetExecution().GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)

		_, err = c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: e.GetId()})
		is.Equal(connect.CodeOf(err), connect.CodeFailedPrecondition) // already finished

		_, err = c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: uuid.NewString()})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // unknown execution
		_, err = c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: uuid.NewString()})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // unknown execution
		_, err = c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "nope"}})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // unknown workflow
		_, err = c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WebhookPath{WebhookPath: "no/such/hook"}})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound) // unknown webhook path
	})
}

func TestTriggerByWebhook(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite}, func(t *testing.T, c client) {
		is := is.New(t)
		deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "hooked"), Triggers: []*v1.Trigger{webhook("gh", "hooks/github")}})

		res, err := c.TriggerWorkflow(t.Context(), &v1.TriggerWorkflowRequest{
			Target:      &v1.TriggerWorkflowRequest_WebhookPath{WebhookPath: "hooks/github"},
			TriggerData: `{"ref":"main"}`,
		})
		is.NoErr(err)
		e := res.GetExecution()
		is.Equal(e.GetWorkflowId(), "hooked")                             // the deployment owning the path
		is.Equal(e.GetTriggerType(), v1.TriggerType_TRIGGER_TYPE_WEBHOOK) // by webhook path
		is.Equal(e.GetTriggerId(), "gh")
		waitStatus(t, c, e.GetId(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	})
}

func TestTriggerPausedAndCancel(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite, postgres}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := t.Context()

		paused := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "paused")})
		_, err := c.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{
			DeploymentId: paused.GetId(), Status: v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, UpdateMask: mask("status"),
		})
		is.NoErr(err)
		_, err = c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "paused"}})
		is.Equal(connect.CodeOf(err), connect.CodeFailedPrecondition) // not DEPLOYED

		deploy(t, c, &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{Id: "slow", Nodes: []*v1.Node{
			node(t, "wait", "delay", map[string]any{"duration": "1h"}),
		}}})
		res, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "slow"}})
		is.NoErr(err)
		id := res.GetExecution().GetId()
		waitStatus(t, c, id, v1.ExecutionStatus_EXECUTION_STATUS_RUNNING)

		cres, err := c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: id, Reason: "changed my mind"})
		is.NoErr(err)
		is.Equal(cres.GetExecution().GetId(), id)
		e := waitStatus(t, c, id, v1.ExecutionStatus_EXECUTION_STATUS_CANCELLED) // the worker cancelled the engine call
		is.True(e.GetFinishTime() != nil)

		_, err = c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: id})
		is.NoErr(err) // cancelling a cancelled execution answers it again
	})
}

func TestMonitoringAnswersEveryProtocol(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite}, func(t *testing.T, c client) {
		ctx := t.Context()
		// Each answers (its numbers are checked in monitoring_test.go).
		calls := map[string]func() error{
			"GetExecutionHistory": func() error {
				_, err := c.GetExecutionHistory(ctx, &v1.GetExecutionHistoryRequest{})
				return err
			},
			"GetDeploymentStats": func() error {
				_, err := c.GetDeploymentStats(ctx, &v1.GetDeploymentStatsRequest{})
				return err
			},
			"GetSchedulingMetrics": func() error {
				_, err := c.GetSchedulingMetrics(ctx, &v1.GetSchedulingMetricsRequest{})
				return err
			},
			"GetJitterDistribution": func() error {
				_, err := c.GetJitterDistribution(ctx, &v1.GetJitterDistributionRequest{})
				return err
			},
			"GetLoadDistribution": func() error {
				_, err := c.GetLoadDistribution(ctx, &v1.GetLoadDistributionRequest{})
				return err
			},
		}
		for name, call := range calls {
			t.Run(name, func(t *testing.T) {
				is.New(t).NoErr(call())
			})
		}
	})
}

func TestGetSystemHealth(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite}, func(t *testing.T, c client) {
		is := is.New(t)
		res, err := c.GetSystemHealth(t.Context(), &v1.GetSystemHealthRequest{})
		is.NoErr(err)
		is.Equal(res.GetStatus(), "healthy")
		is.Equal(res.GetVersion(), "test")
		is.True(res.GetTimestamp() != nil)
		is.Equal(len(res.GetDependencies()), 1) // the database only
		dep := res.GetDependencies()[0]
		is.Equal(dep.GetName(), "database")
		is.Equal(dep.GetStatus(), "healthy")
		is.Equal(dep.GetError(), "")
	})
}

func TestRetentionConfigRoundTrips(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := t.Context()
		d := deploy(t, c, &v1.DeployWorkflowRequest{
			Definition: hello(t, "kept"),
			Config:     &v1.DeploymentConfig{RetentionAge: durationpb.New(72 * time.Hour), RetentionKeepLast: 7},
		})
		is.Equal(d.GetConfig().GetRetentionAge().AsDuration(), 72*time.Hour)
		is.Equal(d.GetConfig().GetRetentionKeepLast(), uint32(7))

		res, err := c.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{
			DeploymentId: d.GetId(),
			Config:       &v1.DeploymentConfig{RetentionKeepLast: 3},
			UpdateMask:   mask("config"),
		})
		is.NoErr(err)
		is.True(res.GetDeployment().GetConfig().GetRetentionAge() == nil) // replaced whole: back to the default
		is.Equal(res.GetDeployment().GetConfig().GetRetentionKeepLast(), uint32(3))

		_, err = c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
			Definition: hello(t, "too-long"),
			Config:     &v1.DeploymentConfig{RetentionAge: durationpb.New(20 * 365 * 24 * time.Hour)},
		})
		is.Equal(violations(t, err), []string{"config.retention_age|duration.gte_lte"})
	})
}
