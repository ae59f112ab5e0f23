package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/matryer/is"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/registry"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// monitoringNow is the clock of the monitoring tests.
var monitoringNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// monitoringBundle is a store with two deployments (wf-a DEPLOYED with an hourly cron trigger,
// wf-b PAUSED) and the handler with monitoring on a real listener.
type monitoringBundle struct {
	db     *store.DB
	a, b   *deployments.Deployment
	client workflowruntimev1connect.WorkflowRuntimeServiceClient
	grpc   workflowruntimev1connect.WorkflowRuntimeServiceClient
}

func monitoringSetup(t *testing.T, open func(testing.TB) *store.DB) *monitoringBundle {
	t.Helper()
	db := open(t)
	ctx := context.Background()
	mk := func(wf string, s deployments.Status) *deployments.Deployment {
		d := storetest.NewDeployment(wf)
		d.Status = s
		d.Triggers = []deployments.Trigger{{ID: "hourly", Cron: &deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC", JitterWindowSeconds: 300}}}
		if err := storetest.Create(ctx, db, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	b := &monitoringBundle{db: db, a: mk("wf-a", deployments.StatusDeployed), b: mk("wf-b", deployments.StatusPaused)}

	logger := slog.New(slog.DiscardHandler)
	checker := health.NewChecker(health.Options{Version: "test"})
	checker.Register("database", db.Ping)
	checker.SetRegistry(registry.New(nil, registry.Config{
		Self:  registry.Instance{ID: "test-1", Role: "all", Version: "test", Address: "127.0.0.1:8080", Started: monitoringNow},
		Slots: func() (int, int) { return 3, 128 },
		Now:   func() time.Time { return monitoringNow.Add(time.Minute) },
	}))
	handler := api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{}),
		Health:      checker,
		Monitoring:  monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return monitoringNow }, Logger: logger}),
		Logger:      logger,
	})
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownGrace = 5 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := httpserver.New(cfg, handler, checker, logger)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	h1 := &http.Transport{}
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	b.client = workflowruntimev1connect.NewWorkflowRuntimeServiceClient(&http.Client{Transport: h1}, srv.URL(), connect.WithProtoJSON())
	b.grpc = workflowruntimev1connect.NewWorkflowRuntimeServiceClient(&http.Client{Transport: h2}, srv.URL(), connect.WithGRPC())
	return b
}

// eachMonitoringBackend runs f on SQLite and PostgreSQL, in parallel.
func eachMonitoringBackend(t *testing.T, f func(t *testing.T, b *monitoringBundle)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, monitoringSetup(t, open))
		})
	}
}

// execution inserts a finished (or not) execution of d created at at.
func (b *monitoringBundle) execution(t *testing.T, d *deployments.Deployment, at time.Time, s execution.Status, run time.Duration) string {
	t.Helper()
	e := &execution.Execution{
		ID: uuid.NewString(), DeploymentID: d.ID, WorkflowID: d.WorkflowID, Revision: 1,
		Status: s, TriggerType: execution.TriggerManual, CreatedAt: at, UpdatedAt: at,
	}
	if run > 0 {
		e.StartedAt, e.FinishedAt = at, at.Add(run)
	}
	if _, _, err := b.db.ExecutionInsert(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

func pageTokenViolation(err error) bool {
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInvalidArgument {
		return false
	}
	for _, d := range cerr.Details() {
		msg, err := d.Value()
		if err != nil {
			continue
		}
		if vs, ok := msg.(*validate.Violations); ok {
			for _, v := range vs.GetViolations() {
				if els := v.GetField().GetElements(); len(els) == 1 && els[0].GetFieldName() == "page_token" {
					return true
				}
			}
		}
	}
	return false
}

func TestGetExecutionHistory(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		ctx := t.Context()
		var want []string
		for i := range 5 {
			want = append([]string{b.execution(t, b.a, monitoringNow.Add(-time.Duration(5-i)*time.Minute), execution.StatusFailed, time.Second)}, want...)
		}
		b.execution(t, b.a, monitoringNow.Add(-time.Hour), execution.StatusSucceeded, time.Second)
		b.execution(t, b.b, monitoringNow, execution.StatusFailed, time.Second)

		req := &v1.GetExecutionHistoryRequest{
			WorkflowId: "wf-a",
			Statuses:   []v1.ExecutionStatus{v1.ExecutionStatus_EXECUTION_STATUS_FAILED, v1.ExecutionStatus_EXECUTION_STATUS_TIMED_OUT},
			StartTime:  timestamppb.New(monitoringNow.Add(-30 * time.Minute)),
			EndTime:    timestamppb.New(monitoringNow),
			PageSize:   2,
		}
		var got []string
		for _, c := range []workflowruntimev1connect.WorkflowRuntimeServiceClient{b.client, b.grpc, b.client} {
			resp, err := c.GetExecutionHistory(ctx, req)
			is.NoErr(err)
			for _, e := range resp.GetExecutions() {
				is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
				is.Equal(e.GetFinishTime().AsTime().Sub(e.GetStartTime().AsTime()), time.Second)
				got = append(got, e.GetId())
			}
			req.PageToken = resp.GetNextPageToken()
			if req.PageToken == "" {
				break
			}
		}
		is.Equal(got, want) // three pages, newest first
		is.Equal(req.GetPageToken(), "")

		first, err := b.client.GetExecutionHistory(ctx, &v1.GetExecutionHistoryRequest{WorkflowId: "wf-a", PageSize: 1})
		is.NoErr(err)
		_, err = b.client.GetExecutionHistory(ctx, &v1.GetExecutionHistoryRequest{WorkflowId: "wf-b", PageSize: 1, PageToken: first.GetNextPageToken()})
		is.True(pageTokenViolation(err)) // another filter's token
		tampered := []byte(first.GetNextPageToken())
		tampered[3] ^= 1
		_, err = b.grpc.GetExecutionHistory(ctx, &v1.GetExecutionHistoryRequest{WorkflowId: "wf-a", PageSize: 1, PageToken: string(tampered)})
		is.True(pageTokenViolation(err)) // altered token
		_, err = b.client.GetExecutionHistory(ctx, &v1.GetExecutionHistoryRequest{PageSize: 1001})
		is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument) // page_size capped by the proto rule
	})
}

func TestGetDeploymentStats(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		b.execution(t, b.a, monitoringNow.Add(-time.Hour), execution.StatusSucceeded, time.Second)
		b.execution(t, b.a, monitoringNow.Add(-time.Hour), execution.StatusSucceeded, 3*time.Second)
		b.execution(t, b.a, monitoringNow.Add(-time.Hour), execution.StatusFailed, 5*time.Second)
		b.execution(t, b.a, monitoringNow.Add(-48*time.Hour), execution.StatusFailed, time.Second) // out of the default range

		resp, err := b.grpc.GetDeploymentStats(t.Context(), &v1.GetDeploymentStatsRequest{})
		is.NoErr(err)
		is.Equal(len(resp.GetDeploymentsByStatus()), 2)
		is.Equal(resp.GetDeploymentsByStatus()[0].GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED)
		is.Equal(resp.GetDeploymentsByStatus()[0].GetCount(), int64(1))
		is.Equal(len(resp.GetExecutionsByStatus()), 2)
		is.Equal(resp.GetExecutionsByTriggerType()[0].GetTriggerType(), v1.TriggerType_TRIGGER_TYPE_MANUAL)
		is.Equal(resp.GetExecutionsByTriggerType()[0].GetCount(), int64(3))
		is.Equal(len(resp.GetDeployments()), 1)
		d := resp.GetDeployments()[0]
		is.Equal(d.GetDeploymentId(), b.a.ID)
		is.Equal(d.GetWorkflowId(), "wf-a")
		is.Equal([]int64{d.GetTotal(), d.GetSucceeded(), d.GetFailed()}, []int64{3, 2, 1})
		is.Equal(d.GetSuccessRate(), 2.0/3.0)
		is.Equal(d.GetDurationP50().AsDuration(), 3*time.Second)
		is.Equal(d.GetDurationP99().AsDuration(), 4960*time.Millisecond) // 3 + 0.98*2 s

		_, err = b.client.GetDeploymentStats(t.Context(), &v1.GetDeploymentStatsRequest{
			StartTime: timestamppb.New(monitoringNow), EndTime: timestamppb.New(monitoringNow.Add(-time.Hour)),
		})
		is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument) // end before start
	})
}

func TestGetSchedulingMetrics(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		at := monitoringNow.Add(-10 * time.Minute)
		is.NoErr(b.db.FireRecord(t.Context(), []scheduler.Fire{
			{WorkflowID: "wf-a", DeploymentID: b.a.ID, TriggerID: "hourly", NominalAt: at, ScheduledAt: at, FiredAt: at.Add(2 * time.Second), Outcome: scheduler.OutcomeFired},
			{WorkflowID: "wf-a", DeploymentID: b.a.ID, TriggerID: "hourly", NominalAt: at, ScheduledAt: at, FiredAt: at, Outcome: scheduler.OutcomeDeduplicated},
		}))
		resp, err := b.client.GetSchedulingMetrics(t.Context(), &v1.GetSchedulingMetricsRequest{})
		is.NoErr(err)
		is.Equal(resp.GetScheduledTriggers(), int64(1)) // wf-b is paused
		is.Equal(resp.GetFired(), int64(1))
		is.Equal(resp.GetDeduplicated(), int64(1))
		is.Equal(resp.GetFiresPerMinute(), 1.0/60)
		is.Equal(resp.GetLatenessP50().AsDuration(), 2*time.Second)
	})
}

func TestGetJitterDistribution(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		resp, err := b.grpc.GetJitterDistribution(t.Context(), &v1.GetJitterDistributionRequest{BucketCount: 10, WorkflowIds: []string{"wf-a"}})
		is.NoErr(err)
		is.Equal(resp.GetTriggerCount(), int64(1))
		is.Equal(len(resp.GetBuckets()), 10)
		off := cron.JitterSeconds("wf-a", 300)
		is.Equal(resp.GetBuckets()[off/30].GetCount(), int64(1))
		is.Equal(resp.GetMaxOverMean(), 10.0)
		is.Equal(len(resp.GetOffsets()), 1)
		is.Equal(resp.GetOffsets()[0].GetOffsetSeconds(), uint32(off))
		is.Equal(resp.GetOffsets()[0].GetTriggerId(), "hourly")
		_, err = b.client.GetJitterDistribution(t.Context(), &v1.GetJitterDistributionRequest{BucketCount: 1001})
		is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
	})
}

func TestGetLoadDistribution(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		resp, err := b.client.GetLoadDistribution(t.Context(), &v1.GetLoadDistributionRequest{
			StartTime: timestamppb.New(start), Window: durationpb.New(2 * time.Hour), Resolution: durationpb.New(time.Hour),
		})
		is.NoErr(err)
		is.Equal(len(resp.GetBuckets()), 2)
		is.Equal(resp.GetBuckets()[1].GetStartTime().AsTime(), start.Add(time.Hour))
		is.Equal(resp.GetBuckets()[0].GetFires(), int64(1))
		is.Equal(resp.GetBuckets()[0].GetFiresWithoutJitter(), int64(1))
		is.Equal(resp.GetPeakFiresPerSecond(), int64(1))
		is.Equal(resp.GetPeakFiresPerSecondWithoutJitter(), int64(1))
		is.Equal(resp.GetMeanFiresPerSecond(), 2.0/7200)
	})
}

func TestGetSystemHealthListsThisInstance(t *testing.T) {
	t.Parallel()
	eachMonitoringBackend(t, func(t *testing.T, b *monitoringBundle) {
		is := is.New(t)
		resp, err := b.client.GetSystemHealth(t.Context(), &v1.GetSystemHealthRequest{})
		is.NoErr(err)
		is.Equal(resp.GetStatus(), "healthy")
		is.Equal(len(resp.GetInstances()), 1)
		is.True(proto.Equal(resp.GetInstances()[0], &v1.RoleInstance{
			Id:            "test-1",
			Role:          "all",
			Version:       "test",
			StartTime:     timestamppb.New(monitoringNow),
			Address:       "127.0.0.1:8080",
			LastHeartbeat: timestamppb.New(monitoringNow.Add(time.Minute)),
			SlotsInUse:    3,
			SlotCapacity:  128,
		})) // the embedded registry: this process alone
	})
}
