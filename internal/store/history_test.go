package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// monitoringBackends runs f against a fresh SQLite and PostgreSQL store.
func monitoringBackends(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t))
		})
	}
}

// seedDeployment stores a deployment of workflow wf in status s.
func seedDeployment(t *testing.T, db *store.DB, wf string, s deployments.Status) *deployments.Deployment {
	t.Helper()
	d := storetest.NewDeployment(wf)
	d.Status = s
	if err := storetest.Create(context.Background(), db, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// seedExecution inserts an execution of d created at createdAt with status s.
func seedExecution(t *testing.T, db *store.DB, d *deployments.Deployment, createdAt time.Time, s execution.Status, tt execution.TriggerType) *execution.Execution {
	t.Helper()
	createdAt = createdAt.UTC().Truncate(time.Microsecond)
	e := &execution.Execution{
		ID: uuid.NewString(), DeploymentID: d.ID, WorkflowID: d.WorkflowID, Revision: 1,
		Status: s, TriggerType: tt, ScheduledAt: createdAt, CreatedAt: createdAt, UpdatedAt: createdAt,
	}
	if _, _, err := db.ExecutionInsert(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	historyStatuses = []execution.Status{execution.StatusSucceeded, execution.StatusFailed, execution.StatusPending, execution.StatusTimedOut, execution.StatusSkipped}
	historyTypes    = []execution.TriggerType{execution.TriggerCron, execution.TriggerManual, execution.TriggerWebhook}
)

func TestExecutionHistory(t *testing.T) {
	t.Parallel()
	monitoringBackends(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		a := seedDeployment(t, db, "wf-a", deployments.StatusDeployed)
		b := seedDeployment(t, db, "wf-b", deployments.StatusDeployed)
		base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		var all []*execution.Execution
		for i := range 60 {
			d := a
			if i%3 == 0 {
				d = b
			}
			// Every fourth pair shares its created_at: the id breaks the tie.
			at := base.Add(time.Duration(i/2) * time.Minute).Add(time.Duration(i%2) * 123 * time.Microsecond)
			if i%8 < 2 {
				at = base.Add(time.Duration(i/2) * time.Minute)
			}
			all = append(all, seedExecution(t, db, d, at, historyStatuses[i%len(historyStatuses)], historyTypes[i%len(historyTypes)]))
		}
		newestFirst := func(x, y *execution.Execution) int {
			return cmp.Or(y.CreatedAt.Compare(x.CreatedAt), cmp.Compare(y.ID, x.ID))
		}
		slices.SortFunc(all, newestFirst)
		svc := monitoring.NewService(db, monitoring.ServiceConfig{})

		cases := []monitoring.HistoryFilter{
			{},
			{WorkflowID: "wf-a"},
			{DeploymentID: b.ID},
			{Statuses: []execution.Status{execution.StatusFailed}},
			{WorkflowID: "wf-a", Statuses: []execution.Status{execution.StatusFailed, execution.StatusSucceeded, execution.StatusSkipped}},
			{TriggerTypes: []execution.TriggerType{execution.TriggerManual, execution.TriggerWebhook}},
			{DeploymentID: a.ID, Statuses: []execution.Status{execution.StatusPending}, TriggerTypes: []execution.TriggerType{execution.TriggerCron}},
			{Start: base.Add(5 * time.Minute), End: base.Add(20 * time.Minute)},
			{WorkflowID: "wf-a", Start: base.Add(5*time.Minute + 123*time.Microsecond), Statuses: []execution.Status{execution.StatusFailed, execution.StatusTimedOut}},
		}
		for ci, f := range cases {
			var want []string
			for _, e := range all {
				if matches(&f, e) {
					want = append(want, e.ID)
				}
			}
			var got []string
			token := ""
			pages := 0
			for {
				page, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: f, PageSize: 7, PageToken: token})
				is.NoErr(err)
				pages++
				is.True(len(page.Executions) <= 7) // page size honoured
				for _, e := range page.Executions {
					got = append(got, e.ID)
				}
				if page.NextPageToken == "" {
					break
				}
				token = page.NextPageToken
				is.True(pages < 20) // terminates
			}
			is.Equal(fmt.Sprint(ci, got), fmt.Sprint(ci, want)) // every row once, newest first
		}

		// Default page size, and a complete first page.
		page, err := svc.History(ctx, &monitoring.HistoryQuery{})
		is.NoErr(err)
		is.Equal(len(page.Executions), 50)
		is.True(page.NextPageToken != "")
		is.Equal(page.Executions[0].ID, all[0].ID)
		is.Equal(page.Executions[0].CreatedAt, all[0].CreatedAt) // timestamps read back exactly

		// A token is tied to its filters, and any alteration is rejected.
		first, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: monitoring.HistoryFilter{WorkflowID: "wf-a"}, PageSize: 5})
		is.NoErr(err)
		// Signed with the same key for another list, with the payload of this one.
		foreign, err := pagetoken.New(nil).Encode("deployments.list", nil, map[string]any{"t": 1, "i": uuid.NewString()})
		is.NoErr(err)
		bad := []struct {
			f     monitoring.HistoryFilter
			token string
		}{
			{monitoring.HistoryFilter{WorkflowID: "wf-b"}, first.NextPageToken},
			{monitoring.HistoryFilter{WorkflowID: "wf-a", Statuses: []execution.Status{execution.StatusFailed}}, first.NextPageToken},
			{monitoring.HistoryFilter{WorkflowID: "wf-a"}, tamper(first.NextPageToken)},
			{monitoring.HistoryFilter{WorkflowID: "wf-a"}, "not a token"},
			{monitoring.HistoryFilter{WorkflowID: "wf-a"}, foreign},
			{monitoring.HistoryFilter{WorkflowID: "wf-a"}, first.NextPageToken[:len(first.NextPageToken)-2]},
		}
		for _, c := range bad {
			_, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: c.f, PageSize: 5, PageToken: c.token})
			var ve *errdefs.ValidationError
			is.True(errors.As(err, &ve))                   // invalid argument
			is.Equal(ve.Violations[0].Field, "page_token") // on the token
		}
		// The order of the listed statuses does not change the filter.
		f1 := monitoring.HistoryFilter{Statuses: []execution.Status{execution.StatusFailed, execution.StatusSucceeded}}
		p1, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: f1, PageSize: 3})
		is.NoErr(err)
		f2 := monitoring.HistoryFilter{Statuses: []execution.Status{execution.StatusSucceeded, execution.StatusFailed}}
		_, err = svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: f2, PageSize: 3, PageToken: p1.NextPageToken})
		is.NoErr(err)
	})
}

func matches(f *monitoring.HistoryFilter, e *execution.Execution) bool {
	return (f.WorkflowID == "" || f.WorkflowID == e.WorkflowID) &&
		(f.DeploymentID == "" || f.DeploymentID == e.DeploymentID) &&
		(len(f.Statuses) == 0 || slices.Contains(f.Statuses, e.Status)) &&
		(len(f.TriggerTypes) == 0 || slices.Contains(f.TriggerTypes, e.TriggerType)) &&
		(f.Start.IsZero() || !e.CreatedAt.Before(f.Start)) &&
		(f.End.IsZero() || e.CreatedAt.Before(f.End))
}

// tamper changes one character in the middle of token.
func tamper(token string) string {
	b := []byte(token)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
