package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// statementCounter is a bun query hook that records the statements run.
type statementCounter struct {
	mu      sync.Mutex
	queries []string
}

func (c *statementCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (c *statementCounter) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries = append(c.queries, e.Query)
}

// count runs f and returns the statements it ran.
func (c *statementCounter) count(f func()) []string {
	c.mu.Lock()
	c.queries = nil
	c.mu.Unlock()
	f()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queries
}

// countStatements installs a statementCounter on db (a store of this test alone).
func countStatements(db *store.DB) *statementCounter {
	c := &statementCounter{}
	db.AddQueryHook(c)
	return c
}

// twinRows inserts e and a copy of it under another id: the batch method acts on the first,
// the single-row method on the second, and the results must agree.
func twinRows(t *testing.T, db *store.DB, e *execution.Execution) (batchID, singleID string) {
	t.Helper()
	twin := *e
	twin.ID = uuid.Must(uuid.NewV7()).String()
	for _, x := range []*execution.Execution{e, &twin} {
		if _, _, err := db.ExecutionInsert(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	return e.ID, twin.ID
}

// sameButID reports whether a and b are equal but for their ids.
func sameButID(a, b *execution.Execution) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.ID, y.ID = "", ""
	return equalExecutions(&x, &y)
}

func equalExecutions(a, b *execution.Execution) bool {
	return a.ID == b.ID && a.DeploymentID == b.DeploymentID && a.WorkflowID == b.WorkflowID &&
		a.Revision == b.Revision && a.Status == b.Status && a.TriggerType == b.TriggerType &&
		a.TriggerID == b.TriggerID && string(a.TriggerData) == string(b.TriggerData) &&
		a.IdempotencyKey == b.IdempotencyKey && a.ScheduledAt.Equal(b.ScheduledAt) &&
		a.StartedAt.Equal(b.StartedAt) && a.FinishedAt.Equal(b.FinishedAt) &&
		string(a.Output) == string(b.Output) && a.Error == b.Error && a.Attempt == b.Attempt &&
		a.Deaths == b.Deaths && a.FencingToken == b.FencingToken && a.CancelRequested == b.CancelRequested &&
		a.AvailableAt.Equal(b.AvailableAt) && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func TestExecutionGetMany(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		a, b := newExecution(wf), newExecution(wf)
		for _, e := range []*execution.Execution{a, b} {
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
		}
		_, err := db.ExecutionClaim(ctx, b.ID, 3, now)
		is.NoErr(err)
		is.NoErr(db.ExecutionFinish(ctx, &execution.FinishParams{ID: b.ID, Fence: 3, Status: execution.StatusFailed, Error: "x", Output: []byte(`{"o":1}`), Now: now}))
		missing := uuid.NewString()
		upper := strings.ToUpper(a.ID)

		counter := countStatements(db)
		empty := counter.count(func() {
			got, err := db.ExecutionGetMany(ctx, nil)
			is.NoErr(err)
			is.True(got != nil)
			is.Equal(len(got), 0) // nothing asked, nothing found
			got, err = db.ExecutionGetMany(ctx, []string{"not-a-uuid", ""})
			is.NoErr(err)
			is.Equal(len(got), 0) // no UUID: nothing found
		})
		is.Equal(len(empty), 0) // and no statement

		ids := []string{a.ID, missing, "not-a-uuid", b.ID, a.ID, upper}
		var got map[string]*execution.Execution
		stmts := counter.count(func() {
			got, err = db.ExecutionGetMany(ctx, ids)
			is.NoErr(err)
		})
		is.Equal(len(stmts), 1) // one statement
		for _, id := range ids {
			single, err := db.ExecutionGet(ctx, id)
			many, found := got[id]
			if err != nil {
				is.True(errors.Is(err, errdefs.ErrNotFound))
				is.True(!found) // not found by ExecutionGet: absent
				continue
			}
			is.True(found)                         // found by ExecutionGet: present
			is.True(equalExecutions(many, single)) // and the same row
		}
		_, found := got[missing]
		is.True(!found)
		_, found = got["not-a-uuid"]
		is.True(!found)
		is.Equal(got[a.ID].Status, execution.StatusPending)
		is.Equal(got[b.ID].Status, execution.StatusFailed)
		is.Equal(string(got[b.ID].Output), `{"o":1}`)
		is.Equal(got[b.ID].Error, "x")
		is.Equal(string(got[a.ID].TriggerData), `{"a":1}`)
		wantLen := 2
		if db.Dialect() == store.DialectPostgres {
			wantLen = 3 // the upper-case id is the same uuid; SQLite compares the text
		}
		is.Equal(len(got), wantLen)
		if u, ok := got[upper]; ok {
			is.Equal(u.ID, a.ID)
			u.Error = "changed"
			is.Equal(got[a.ID].Error, "") // each id its own copy
		}
	})
}

func TestExecutionClaimMany(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		base := time.Now().UTC().Truncate(time.Microsecond)
		at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }

		type claimCase struct {
			name   string
			setup  func(id string) // brings a fresh PENDING row to the case's state
			fences []int64         // claims of this row in the batch
			want   []bool          // which of them claim it
		}
		claim := func(fence int64) func(string) {
			return func(id string) {
				_, err := db.ExecutionClaim(ctx, id, fence, base)
				is.NoErr(err)
			}
		}
		cases := []claimCase{
			{"pending", nil, []int64{1}, []bool{true}},
			{"pending-2", nil, []int64{7}, []bool{true}},
			{"terminal", func(id string) {
				claim(2)(id)
				is.NoErr(db.ExecutionFinish(ctx, &execution.FinishParams{ID: id, Fence: 2, Status: execution.StatusSucceeded, Now: base}))
			}, []int64{9}, []bool{false}},
			{"stale fence", claim(10), []int64{5}, []bool{false}},
			{"equal fence", claim(4), []int64{4}, []bool{false}},
			{"takeover", claim(3), []int64{8}, []bool{true}},
			{"duplicates", nil, []int64{4, 6, 6, 2}, []bool{false, true, false, false}},
			{"duplicates, all stale", claim(20), []int64{11, 12}, []bool{false, false}},
			{"retry not due", func(id string) {
				claim(2)(id)
				is.NoErr(db.ExecutionRetry(ctx, id, 2, base.Add(time.Hour), base, "again later"))
			}, []int64{9}, []bool{false}},
			{"retry due", func(id string) {
				claim(2)(id)
				is.NoErr(db.ExecutionRetry(ctx, id, 2, base, base, "again now"))
			}, []int64{9}, []bool{true}},
		}

		var ps []execution.ClaimParams
		var caseOf, paramOf []int
		batchIDs := make([]string, len(cases))
		singleIDs := make([]string, len(cases))
		for c, tc := range cases {
			batchIDs[c], singleIDs[c] = twinRows(t, db, newExecution(wf))
			if tc.setup != nil {
				tc.setup(batchIDs[c])
				tc.setup(singleIDs[c])
			}
			for k, f := range tc.fences {
				ps = append(ps, execution.ClaimParams{ID: batchIDs[c], Fence: f, Now: at(len(ps))})
				caseOf, paramOf = append(caseOf, c), append(paramOf, k)
			}
		}
		ps = append(ps,
			execution.ClaimParams{ID: uuid.NewString(), Fence: 1, Now: base},
			execution.ClaimParams{ID: "not-a-uuid", Fence: 1, Now: base})
		caseOf, paramOf = append(caseOf, -1, -1), append(paramOf, -1, -1)
		before, err := db.ExecutionGetMany(ctx, batchIDs)
		is.NoErr(err)

		counter := countStatements(db)
		var out []*execution.Execution
		stmts := counter.count(func() {
			out, err = db.ExecutionClaimMany(ctx, ps)
			is.NoErr(err)
		})
		is.Equal(len(stmts), 1) // one statement for the batch
		is.Equal(len(out), len(ps))

		after, err := db.ExecutionGetMany(ctx, batchIDs)
		is.NoErr(err)
		for i, p := range ps {
			c := caseOf[i]
			if c < 0 {
				is.Equal(out[i], nil) // no such row
				continue
			}
			if !cases[c].want[paramOf[i]] {
				is.Equal(out[i], nil) // refused
				continue
			}
			is.True(out[i] != nil) // claimed
			is.Equal(out[i].ID, p.ID)
			is.Equal(out[i].Status, execution.StatusRunning)
			is.Equal(out[i].FencingToken, p.Fence)
			is.True(out[i].StartedAt.Equal(p.Now)) // this param's time
			is.True(out[i].UpdatedAt.Equal(p.Now))
			if cases[c].name == "takeover" {
				is.Equal(out[i].Deaths, int32(1)) // found RUNNING: the run before died
			} else {
				is.Equal(out[i].Deaths, int32(0)) // found PENDING: no death
			}
			is.True(equalExecutions(out[i], after[p.ID])) // what was returned is what is stored

			// The single-row method on the twin, from the same state, does the same.
			single, err := db.ExecutionClaim(ctx, singleIDs[c], p.Fence, p.Now)
			is.NoErr(err)
			is.True(sameButID(out[i], single))
		}
		for c, tc := range cases {
			claimed := false
			for _, w := range tc.want {
				claimed = claimed || w
			}
			if claimed {
				continue
			}
			// Refused everywhere: the row is unchanged, and ExecutionClaim refuses too.
			is.True(equalExecutions(before[batchIDs[c]], after[batchIDs[c]]))
			for _, f := range tc.fences {
				_, err := db.ExecutionClaim(ctx, singleIDs[c], f, base)
				is.True(errors.Is(err, errdefs.ErrConflict))
			}
		}
		dup := after[batchIDs[6]]
		is.Equal(dup.Attempt, int32(1)) // claimed once, not once per param
		is.Equal(dup.FencingToken, int64(6))
		is.Equal(after[batchIDs[5]].Attempt, int32(2)) // takeover: second attempt

		// Nothing to send: no statement. One row to send: one statement.
		stmts = counter.count(func() {
			out, err = db.ExecutionClaimMany(ctx, nil)
			is.NoErr(err)
			is.Equal(len(out), 0)
			out, err = db.ExecutionClaimMany(ctx, []execution.ClaimParams{{ID: "nope", Fence: 1, Now: base}})
			is.NoErr(err)
			is.Equal(out, []*execution.Execution{nil})
		})
		is.Equal(len(stmts), 0)
		one := newExecution(wf)
		_, _, err = db.ExecutionInsert(ctx, one)
		is.NoErr(err)
		stmts = counter.count(func() {
			out, err = db.ExecutionClaimMany(ctx, []execution.ClaimParams{
				{ID: one.ID, Fence: 3, Now: base}, {ID: one.ID, Fence: 5, Now: at(1)}, {ID: one.ID, Fence: 1, Now: base}})
			is.NoErr(err)
		})
		is.Equal(len(stmts), 1)
		is.Equal(out[0], nil)
		is.Equal(out[2], nil)
		is.True(out[1] != nil) // the largest fence
		is.Equal(out[1].FencingToken, int64(5))
		is.True(out[1].StartedAt.Equal(at(1)))
		out, err = db.ExecutionClaimMany(ctx, []execution.ClaimParams{{ID: one.ID, Fence: 5, Now: base}})
		is.NoErr(err)
		is.Equal(out, []*execution.Execution{nil}) // refused, not an error
	})
}

func TestExecutionFinishMany(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		base := time.Now().UTC().Truncate(time.Microsecond)
		at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
		running := func(fence int64) func(string) {
			return func(id string) {
				_, err := db.ExecutionClaim(ctx, id, fence, base)
				is.NoErr(err)
			}
		}

		type finishCase struct {
			name   string
			setup  func(id string)
			params []execution.FinishParams // ID and Now are filled in
			want   []bool
		}
		cases := []finishCase{
			{"succeeded", running(5), []execution.FinishParams{
				{Fence: 5, Status: execution.StatusSucceeded, Output: []byte(`{"ok":true}`)}}, []bool{true}},
			{"failed", running(2), []execution.FinishParams{
				{Fence: 2, Status: execution.StatusFailed, Error: "boom"}}, []bool{true}},
			{"timed out, output and error", running(3), []execution.FinishParams{
				{Fence: 3, Status: execution.StatusTimedOut, Output: []byte(`[1]`), Error: "late"}}, []bool{true}},
			{"wrong fence", running(6), []execution.FinishParams{
				{Fence: 4, Status: execution.StatusSucceeded}}, []bool{false}},
			{"pending", nil, []execution.FinishParams{
				{Fence: 0, Status: execution.StatusSucceeded}}, []bool{false}},
			{"terminal", func(id string) {
				running(7)(id)
				is.NoErr(db.ExecutionFinish(ctx, &execution.FinishParams{ID: id, Fence: 7, Status: execution.StatusCancelled, Error: "c", Now: base}))
			}, []execution.FinishParams{{Fence: 7, Status: execution.StatusSucceeded}}, []bool{false}},
			{"old and new owner", func(id string) { running(1)(id); running(8)(id) }, []execution.FinishParams{
				{Fence: 1, Status: execution.StatusFailed, Error: "old"},
				{Fence: 8, Status: execution.StatusSucceeded, Output: []byte(`"new"`)}}, []bool{false, true}},
			{"one owner twice", running(9), []execution.FinishParams{
				{Fence: 9, Status: execution.StatusSucceeded, Output: []byte(`1`)},
				{Fence: 9, Status: execution.StatusFailed, Error: "second"}}, []bool{true, false}},
		}

		var ps []*execution.FinishParams
		var caseOf, paramOf []int
		batchIDs := make([]string, len(cases))
		singleIDs := make([]string, len(cases))
		for c, tc := range cases {
			batchIDs[c], singleIDs[c] = twinRows(t, db, newExecution(wf))
			if tc.setup != nil {
				tc.setup(batchIDs[c])
				tc.setup(singleIDs[c])
			}
			for k := range tc.params {
				p := tc.params[k]
				p.ID, p.Now = batchIDs[c], at(len(ps))
				ps = append(ps, &p)
				caseOf, paramOf = append(caseOf, c), append(paramOf, k)
			}
		}
		ps = append(ps,
			&execution.FinishParams{ID: uuid.NewString(), Fence: 1, Status: execution.StatusSucceeded, Now: base},
			&execution.FinishParams{ID: "not-a-uuid", Fence: 1, Status: execution.StatusSucceeded, Now: base})
		caseOf, paramOf = append(caseOf, -1, -1), append(paramOf, -1, -1)
		before, err := db.ExecutionGetMany(ctx, batchIDs)
		is.NoErr(err)

		counter := countStatements(db)
		var ok []bool
		stmts := counter.count(func() {
			ok, err = db.ExecutionFinishMany(ctx, ps)
			is.NoErr(err)
		})
		is.Equal(len(stmts), 1) // one statement for the batch
		is.Equal(len(ok), len(ps))
		after, err := db.ExecutionGetMany(ctx, batchIDs)
		is.NoErr(err)

		for i, p := range ps {
			c := caseOf[i]
			if c < 0 {
				is.True(!ok[i]) // no such row
				continue
			}
			want := cases[c].want[paramOf[i]]
			is.Equal(ok[i], want)
			// The single-row method on the twin, in the order of the batch, agrees.
			sp := *p
			sp.ID = singleIDs[c]
			err := db.ExecutionFinish(ctx, &sp)
			if want {
				is.NoErr(err)
				got := after[p.ID]
				is.Equal(got.Status, p.Status)
				is.Equal(string(got.Output), string(p.Output))
				is.Equal(got.Output == nil, len(p.Output) == 0) // NULL when empty
				is.Equal(got.Error, p.Error)
				is.True(got.FinishedAt.Equal(p.Now)) // this param's time
				is.True(got.UpdatedAt.Equal(p.Now))
				is.Equal(got.FencingToken, p.Fence)
			} else {
				is.True(errors.Is(err, errdefs.ErrConflict))
			}
		}
		for c, tc := range cases {
			single, err := db.ExecutionGet(ctx, singleIDs[c])
			is.NoErr(err)
			is.True(sameButID(after[batchIDs[c]], single)) // the same end state
			written := false
			for _, w := range tc.want {
				written = written || w
			}
			if !written {
				is.True(equalExecutions(before[batchIDs[c]], after[batchIDs[c]])) // untouched
			}
		}
		// SQL NULL, not an empty string, for an empty output or error.
		var nulls int
		is.NoErr(db.Bun().NewSelect().Table("executions").ColumnExpr("count(*)").
			Where("id = ? AND output IS NULL AND error IS NOT NULL", batchIDs[1]).Scan(ctx, &nulls))
		is.Equal(nulls, 1)
		is.NoErr(db.Bun().NewSelect().Table("executions").ColumnExpr("count(*)").
			Where("id = ? AND error IS NULL AND output IS NOT NULL", batchIDs[0]).Scan(ctx, &nulls))
		is.Equal(nulls, 1)

		// Nothing to send: no statement. One write to send: one statement, a refusal is false.
		stmts = counter.count(func() {
			ok, err = db.ExecutionFinishMany(ctx, nil)
			is.NoErr(err)
			is.Equal(len(ok), 0)
			ok, err = db.ExecutionFinishMany(ctx, []*execution.FinishParams{{ID: "nope", Fence: 1, Status: execution.StatusSucceeded, Now: base}})
			is.NoErr(err)
			is.Equal(ok, []bool{false})
		})
		is.Equal(len(stmts), 0)
		one := newExecution(wf)
		_, _, err = db.ExecutionInsert(ctx, one)
		is.NoErr(err)
		running(4)(one.ID)
		stmts = counter.count(func() {
			ok, err = db.ExecutionFinishMany(ctx, []*execution.FinishParams{
				{ID: one.ID, Fence: 4, Status: execution.StatusSucceeded, Now: base},
				{ID: one.ID, Fence: 4, Status: execution.StatusFailed, Now: base}})
			is.NoErr(err)
		})
		is.Equal(len(stmts), 1)
		is.Equal(ok, []bool{true, false})
		ok, err = db.ExecutionFinishMany(ctx, []*execution.FinishParams{{ID: one.ID, Fence: 4, Status: execution.StatusFailed, Now: base}})
		is.NoErr(err)
		is.Equal(ok, []bool{false}) // refused, not an error
		got, err := db.ExecutionGet(ctx, one.ID)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusSucceeded)
	})
}

// Batches of several sizes, each claiming and finishing every row it names, under its own
// fence, with its own values: PostgreSQL sends one prepared statement for every size (arrays
// of the values), SQLite a VALUES list of the batch's size.
func TestExecutionClaimFinishManyBatchSizes(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		base := time.Now().UTC().Truncate(time.Microsecond)
		for _, n := range []int{2, 16, 17, 40} {
			claims := make([]execution.ClaimParams, n)
			for i := range claims {
				e := newExecution(wf)
				_, _, err := db.ExecutionInsert(ctx, e)
				is.NoErr(err)
				claims[i] = execution.ClaimParams{ID: e.ID, Fence: int64(100 + i), Now: base.Add(time.Duration(i) * time.Millisecond)}
			}
			claimed, err := db.ExecutionClaimMany(ctx, claims)
			is.NoErr(err)
			finishes := make([]*execution.FinishParams, n)
			for i, c := range claims {
				is.True(claimed[i] != nil) // every row claimed
				is.Equal(claimed[i].FencingToken, c.Fence)
				is.True(claimed[i].StartedAt.Equal(c.Now))
				status, errText := execution.StatusSucceeded, ""
				if i%2 == 1 {
					status, errText = execution.StatusFailed, fmt.Sprintf("failure %d", i)
				}
				finishes[i] = &execution.FinishParams{ID: c.ID, Fence: c.Fence, Status: status, Error: errText,
					Output: []byte(fmt.Sprintf(`{"i":%d}`, i)), Now: c.Now.Add(time.Second)}
			}
			// A stale fence for the first row: refused, while the right one is written.
			stale := *finishes[0]
			stale.Fence--
			ok, err := db.ExecutionFinishMany(ctx, append(finishes, &stale))
			is.NoErr(err)
			is.Equal(len(ok), n+1)
			is.True(!ok[n])
			for i, f := range finishes {
				is.True(ok[i])
				got, err := db.ExecutionGet(ctx, f.ID)
				is.NoErr(err)
				is.Equal(got.Status, f.Status)
				is.Equal(got.Error, f.Error)
				is.Equal(string(got.Output), string(f.Output))
				is.True(got.FinishedAt.Equal(f.Now))
			}
		}
	})
}
