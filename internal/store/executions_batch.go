package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// The batch methods below do what their single-row counterparts do (ExecutionGet,
// ExecutionClaim, ExecutionFinish), row by row, in one statement: the worker groups the writes
// of concurrent executions to spend fewer statements and commits. The rows are a VALUES list in
// a CTE (SQLite names no columns of a bare VALUES, a CTE can; PostgreSQL types the literals of a
// VALUES list as text unless they are cast), joined to executions by id in an UPDATE … FROM
// whose WHERE is the single-row method's, and the rows written come back by RETURNING.

// executionIDArg returns the form of an execution id to send to the database, and false when
// id is not a UUID: ExecutionGet says no row has it, and PostgreSQL would reject it as a uuid,
// failing the whole batch. PostgreSQL gets the canonical form, which is also how it returns the
// id, so that returned rows are matched back by the argument; SQLite compares the text as is.
func (db *DB) executionIDArg(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	if db.dialect == DialectPostgres {
		return u.String(), true
	}
	return id, true
}

// valuesList returns the placeholders of a VALUES list of n rows, "(?, ?, …), (?, ?, …)", one
// per column of the given PostgreSQL types, cast on PostgreSQL (which types a VALUES list's
// literals as text otherwise).
func (db *DB) valuesList(n int, pgTypes ...string) string {
	placeholders := make([]string, len(pgTypes))
	for i, t := range pgTypes {
		placeholders[i] = "?"
		if db.dialect == DialectPostgres {
			placeholders[i] = "?::" + t
		}
	}
	tuple := "(" + strings.Join(placeholders, ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ")
}

// ExecutionGetMany implements execution.StepStore: SELECT … WHERE id IN (…). The result is keyed
// by the ids as given; ids that are not UUIDs are absent, as ExecutionGet finds no row for them.
func (db *DB) ExecutionGetMany(ctx context.Context, ids []string) (map[string]*execution.Execution, error) {
	out := make(map[string]*execution.Execution, len(ids))
	asked := make(map[string][]string, len(ids)) // argument → the ids given for it
	args := make([]string, 0, len(ids))
	for _, id := range ids {
		a, ok := db.executionIDArg(id)
		if !ok {
			continue
		}
		if _, seen := asked[a]; !seen {
			args = append(args, a)
		}
		if !slices.Contains(asked[a], id) {
			asked[a] = append(asked[a], id)
		}
	}
	if len(args) == 0 {
		return out, nil
	}
	var rows []executionRow
	err := db.bun.NewSelect().Model(&rows).Where("id IN (?)", bun.List(args)).Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get %d executions: %w", len(args), interpretError(err))
	}
	for i := range rows {
		given, ok := asked[rows[i].ID]
		if !ok {
			return nil, fmt.Errorf("get %d executions: the database returned unknown id %s", len(args), rows[i].ID)
		}
		for _, id := range given {
			out[id] = rows[i].toExecution() // each id its own copy
		}
	}
	return out, nil
}

// ExecutionClaimMany implements execution.StepStore:
//
//	WITH v (id, fence, ts) AS (VALUES (…), …)
//	UPDATE executions SET status = 'RUNNING', attempt = attempt + 1,
//	    deaths = deaths + CASE WHEN status = 'RUNNING' THEN 1 ELSE 0 END,
//	    fencing_token = v.fence, started_at = v.ts, updated_at = v.ts
//	FROM v WHERE executions.id = v.id
//	    AND (executions.status = 'RUNNING' OR (executions.status = 'PENDING'
//	        AND (executions.available_at IS NULL OR executions.available_at <= v.ts)))
//	    AND (executions.fencing_token IS NULL OR executions.fencing_token < v.fence)
//	    AND executions.id BETWEEN <the smallest id> AND <the largest>
//	RETURNING executions.* (* on SQLite)
//
// That is the statement on SQLite; PostgreSQL's says the same with arrays, prepared
// (claimManyPostgres).
// Of several params naming one row only the one with the largest fence (the first of equal
// ones) is sent; the others get nil. With one row to claim it is ExecutionClaim.
func (db *DB) ExecutionClaimMany(ctx context.Context, ps []execution.ClaimParams) ([]*execution.Execution, error) {
	out := make([]*execution.Execution, len(ps))
	winner := make(map[string]int, len(ps)) // argument → index of the claim sent for that row
	for i, p := range ps {
		a, ok := db.executionIDArg(p.ID)
		if !ok {
			continue // no such row: ExecutionClaim would say errdefs.ErrConflict
		}
		if j, seen := winner[a]; !seen || p.Fence > ps[j].Fence {
			winner[a] = i
		}
	}
	sent := sortedKeys(winner)
	switch len(sent) {
	case 0:
		return out, nil
	case 1:
		i := winner[sent[0]]
		e, err := db.ExecutionClaim(ctx, sent[0], ps[i].Fence, ps[i].Now)
		if err != nil && !errors.Is(err, errdefs.ErrConflict) {
			return nil, err
		}
		out[i] = e
		return out, nil
	}
	if db.dialect == DialectPostgres {
		return db.claimManyPostgres(ctx, ps, winner, sent, out)
	}
	values := db.valuesList(len(sent), "uuid", "bigint", "timestamptz")
	args := make([]any, 0, 3*len(sent)+2)
	for _, a := range sent {
		p := ps[winner[a]]
		args = append(args, a, p.Fence, p.Now.UTC())
	}
	args = append(args, execution.StatusRunning, execution.StatusRunning, execution.StatusRunning, execution.StatusPending,
		sent[0], sent[len(sent)-1])
	// PostgreSQL's * would add v's columns; SQLite's names the target table's only, and it
	// refuses executions.* in RETURNING.
	returning := "executions.*"
	if db.dialect == DialectSQLite {
		returning = "*"
	}
	query := `WITH v (id, fence, ts) AS (VALUES ` + values + `)
		UPDATE executions SET status = ?, attempt = executions.attempt + 1,
			deaths = executions.deaths + CASE WHEN executions.status = ? THEN 1 ELSE 0 END,
			fencing_token = v.fence,
			started_at = v.ts, updated_at = v.ts
		FROM v
		WHERE executions.id = v.id
			AND (executions.status = ? OR (executions.status = ?
				AND (executions.available_at IS NULL OR executions.available_at <= v.ts)))
			AND (executions.fencing_token IS NULL OR executions.fencing_token < v.fence)
			AND executions.id BETWEEN ? AND ?
		RETURNING ` + returning
	var rows []executionRow
	if err := db.bun.NewRaw(query, args...).Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim %d executions: %w", len(sent), interpretError(err))
	}
	return claimedRows(rows, ps, winner, len(sent), out)
}

// claimManyPostgres is ExecutionClaimMany's statement on PostgreSQL, prepared (queryPrepared):
// the ids, fences and times go as three arrays, one row of v each, so that one text serves
// every batch and PostgreSQL plans it once per connection. The VALUES list of the other
// dialects is a new text for every size and costs the planner about 2 ms each time (it weighs
// join paths over every index of the partition). Same conditions, same RETURNING:
//
//	UPDATE executions SET … FROM unnest(ids, fences, times) AS v (id, fence, ts)
//	WHERE executions.id = v.id AND … AND executions.id BETWEEN <the smallest id> AND <the largest>
//
// The id range lets the executor prune the partitions the batch's ids are not in (the plan is
// made without the values, and PostgreSQL 15 does not prune by id = v.id before it runs).
func (db *DB) claimManyPostgres(ctx context.Context, ps []execution.ClaimParams, winner map[string]int, sent []string, out []*execution.Execution) ([]*execution.Execution, error) {
	fences := make([]int64, len(sent))
	times := make([]time.Time, len(sent))
	for j, a := range sent {
		p := ps[winner[a]]
		fences[j], times[j] = p.Fence, p.Now.UTC()
	}
	query := `UPDATE executions SET status = $1, attempt = executions.attempt + 1,
			deaths = executions.deaths + CASE WHEN executions.status = $1 THEN 1 ELSE 0 END,
			fencing_token = v.fence, started_at = v.ts, updated_at = v.ts
		FROM unnest($2::uuid[], $3::bigint[], $4::timestamptz[]) AS v (id, fence, ts)
		WHERE executions.id = v.id
			AND (executions.status = $1 OR (executions.status = $5
				AND (executions.available_at IS NULL OR executions.available_at <= v.ts)))
			AND (executions.fencing_token IS NULL OR executions.fencing_token < v.fence)
			AND executions.id BETWEEN $6::uuid AND $7::uuid
		RETURNING ` + executionColumnsQualified
	var rows []executionRow
	err := db.scanPrepared(ctx, &rows, query, pgParams{string(execution.StatusRunning), sent, fences, times,
		string(execution.StatusPending), sent[0], sent[len(sent)-1]})
	if err != nil {
		return nil, fmt.Errorf("claim %d executions: %w", len(sent), interpretError(err))
	}
	return claimedRows(rows, ps, winner, len(sent), out)
}

// claimedRows puts the rows a claim statement of n rows returned into out, at the index of the
// params that claimed each (winner); a row nobody claimed under its fence is an error.
func claimedRows(rows []executionRow, ps []execution.ClaimParams, winner map[string]int, n int, out []*execution.Execution) ([]*execution.Execution, error) {
	for k := range rows {
		r := &rows[k]
		i, ok := winner[r.ID]
		if !ok || r.FencingToken == nil || *r.FencingToken != ps[i].Fence {
			return nil, fmt.Errorf("claim %d executions: the database returned an unknown claim of %s", n, r.ID)
		}
		out[i] = r.toExecution()
	}
	return out, nil
}

// finishKey names one owner's write of one row.
type finishKey struct {
	id    string
	fence int64
}

// ExecutionFinishMany implements execution.StepStore:
//
//	WITH v (id, fence, status, output, error, ts) AS (VALUES (…), …)
//	UPDATE executions SET status = v.status, output = v.output, error = v.error,
//	    finished_at = v.ts, updated_at = v.ts
//	FROM v WHERE executions.id = v.id AND executions.fencing_token = v.fence
//	    AND executions.status = 'RUNNING'
//	    AND executions.id BETWEEN <the smallest id> AND <the largest>
//	RETURNING executions.id, executions.fencing_token
//
// Params for one row under different fences all enter the VALUES list: at most one matches the
// row's fence. Of several params with one row and fence only the first does (after it the row
// is not RUNNING any more, so ExecutionFinish would refuse the others). With one param to send
// it is ExecutionFinish. That is the statement on SQLite; PostgreSQL's says the same with
// arrays, prepared (finishManyPostgres).
func (db *DB) ExecutionFinishMany(ctx context.Context, ps []*execution.FinishParams) ([]bool, error) {
	ok := make([]bool, len(ps))
	sent := make(map[finishKey]int, len(ps)) // (argument, fence) → index of the write sent
	for i, p := range ps {
		if p == nil {
			return nil, fmt.Errorf("finish %d executions: params %d is nil", len(ps), i)
		}
		a, valid := db.executionIDArg(p.ID)
		if !valid {
			continue // no such row: ExecutionFinish would say errdefs.ErrConflict
		}
		if _, seen := sent[finishKey{a, p.Fence}]; !seen {
			sent[finishKey{a, p.Fence}] = i
		}
	}
	keys := make([]finishKey, 0, len(sent))
	for k := range sent {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y finishKey) int {
		if c := strings.Compare(x.id, y.id); c != 0 {
			return c
		}
		return cmp.Compare(x.fence, y.fence)
	})
	switch len(keys) {
	case 0:
		return ok, nil
	case 1:
		i := sent[keys[0]]
		p := *ps[i]
		p.ID = keys[0].id
		err := db.ExecutionFinish(ctx, &p)
		if err != nil && !errors.Is(err, errdefs.ErrConflict) {
			return nil, err
		}
		ok[i] = err == nil
		return ok, nil
	}
	if db.dialect == DialectPostgres {
		return db.finishManyPostgres(ctx, ps, sent, keys, ok)
	}
	values := db.valuesList(len(keys), "uuid", "bigint", "text", "text", "text", "timestamptz")
	args := make([]any, 0, 6*len(keys)+1)
	for _, key := range keys {
		p := ps[sent[key]]
		args = append(args, key.id, p.Fence, string(p.Status), nilIfEmpty(string(p.Output)), nilIfEmpty(p.Error), p.Now.UTC())
	}
	args = append(args, execution.StatusRunning, keys[0].id, keys[len(keys)-1].id)
	query := `WITH v (id, fence, status, output, error, ts) AS (VALUES ` + values + `)
		UPDATE executions SET status = v.status, output = v.output, error = v.error,
			finished_at = v.ts, updated_at = v.ts
		FROM v
		WHERE executions.id = v.id
			AND executions.fencing_token = v.fence
			AND executions.status = ?
			AND executions.id BETWEEN ? AND ?
		RETURNING executions.id, executions.fencing_token`
	var written []finishedRow
	if err := db.bun.NewRaw(query, args...).Scan(ctx, &written); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("finish %d executions: %w", len(keys), interpretError(err))
	}
	return finishedRows(written, sent, len(keys), ok)
}

// finishManyPostgres is ExecutionFinishMany's statement on PostgreSQL, prepared, its values as
// arrays (as claimManyPostgres):
//
//	UPDATE executions SET status = v.status, output = v.output, error = v.error,
//	    finished_at = v.ts, updated_at = v.ts
//	FROM unnest(ids, fences, statuses, outputs, errors, times) AS v (…)
//	WHERE executions.id = v.id AND executions.fencing_token = v.fence
//	    AND executions.status = 'RUNNING' AND executions.id BETWEEN <the smallest id> AND <the largest>
//	RETURNING executions.id, executions.fencing_token
func (db *DB) finishManyPostgres(ctx context.Context, ps []*execution.FinishParams, sent map[finishKey]int, keys []finishKey, ok []bool) ([]bool, error) {
	var (
		ids      = make([]string, len(keys))
		fences   = make([]int64, len(keys))
		statuses = make([]string, len(keys))
		outputs  = make([]*string, len(keys))
		errs     = make([]*string, len(keys))
		times    = make([]time.Time, len(keys))
	)
	for j, key := range keys {
		p := ps[sent[key]]
		ids[j], fences[j], statuses[j] = key.id, key.fence, string(p.Status)
		outputs[j], errs[j], times[j] = nilIfEmpty(string(p.Output)), nilIfEmpty(p.Error), p.Now.UTC()
	}
	const query = `UPDATE executions SET status = v.status, output = v.output, error = v.error,
			finished_at = v.ts, updated_at = v.ts
		FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
			AS v (id, fence, status, output, error, ts)
		WHERE executions.id = v.id
			AND executions.fencing_token = v.fence
			AND executions.status = $7
			AND executions.id BETWEEN $8::uuid AND $9::uuid
		RETURNING executions.id, executions.fencing_token`
	var written []finishedRow
	err := db.scanPrepared(ctx, &written, query, pgParams{ids, fences, statuses, outputs, errs, times,
		string(execution.StatusRunning), ids[0], ids[len(ids)-1]})
	if err != nil {
		return nil, fmt.Errorf("finish %d executions: %w", len(keys), interpretError(err))
	}
	return finishedRows(written, sent, len(keys), ok)
}

// finishedRow is a row a finish statement wrote: RETURNING id, fencing_token.
type finishedRow struct {
	ID    string `bun:"id"`
	Fence int64  `bun:"fencing_token"`
}

// finishedRows marks in ok the params of each write a finish statement of n writes made (sent:
// (id, fence) → index); a write nobody sent is an error.
func finishedRows(written []finishedRow, sent map[finishKey]int, n int, ok []bool) ([]bool, error) {
	for _, w := range written {
		i, found := sent[finishKey{w.ID, w.Fence}]
		if !found {
			return nil, fmt.Errorf("finish %d executions: the database returned an unknown write of %s", n, w.ID)
		}
		ok[i] = true
	}
	return ok, nil
}

// sortedKeys returns the keys of m in order: the VALUES list in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
