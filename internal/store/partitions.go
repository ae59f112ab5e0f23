package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/retention"
)

// partitionLockTimeout bounds how long a partition change waits for the table's lock: it must
// not queue every query of the table behind it for long when a long transaction holds the table.
const partitionLockTimeout = "5s"

// partitionKey says how a partitioned table's range bounds map to times.
type partitionKey struct {
	// column is the partition key.
	column string
	// byID: the key is a UUIDv7 id (executions), else a TIMESTAMPTZ (fire_ledger).
	byID bool
}

var partitionKeys = map[string]partitionKey{
	retention.TableExecutions: {column: "id", byID: true},
	retention.TableFireLedger: {column: "scheduled_at"},
}

func partitionKeyOf(table string) (partitionKey, error) {
	k, ok := partitionKeys[table]
	if !ok {
		return k, fmt.Errorf("table %q is not partitioned by the store", table)
	}
	return k, nil
}

// UUIDv7Floor returns the smallest UUIDv7 of t's millisecond: the 48-bit Unix millisecond time,
// every other bit zero. Every id made at or after t sorts at or after it.
func UUIDv7Floor(t time.Time) string {
	var u uuid.UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli())) //nolint:gosec // times after 1970
	copy(u[:6], ms[2:])
	return u.String()
}

// uuidTime is the time of a UUIDv7's first 48 bits.
func uuidTime(s string) (time.Time, error) {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) < 12 {
		return time.Time{}, fmt.Errorf("partition bound %q is not a UUID", s)
	}
	b, err := hex.DecodeString("0000" + h[:12])
	if err != nil {
		return time.Time{}, fmt.Errorf("partition bound %q is not a UUID: %w", s, err)
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b))).UTC(), nil //nolint:gosec // 48 bits
}

// bound is the SQL literal of the partition key at t.
func (k partitionKey) bound(t time.Time) string {
	if k.byID {
		return "'" + UUIDv7Floor(t) + "'::uuid"
	}
	return "'" + t.UTC().Format("2006-01-02 15:04:05.999999+00") + "'::timestamptz"
}

// PartitionList implements retention.Store: the range partitions of table (not the default one)
// with the times their bounds stand for, oldest first. ok is false on SQLite, whose tables are not
// partitioned.
func (db *DB) PartitionList(ctx context.Context, table string) ([]retention.Partition, bool, error) {
	if db.dialect != DialectPostgres {
		return nil, false, nil
	}
	k, err := partitionKeyOf(table)
	if err != nil {
		return nil, false, err
	}
	var rows []struct {
		Name string         `bun:"name"`
		Lo   sql.NullString `bun:"lo"`
		Hi   sql.NullString `bun:"hi"`
	}
	// Timestamp bounds are read back through ::timestamptz and formatted in UTC, so that the
	// session's TimeZone and DateStyle do not matter.
	conv := "%s"
	if !k.byID {
		conv = `to_char((%s)::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	}
	lo := fmt.Sprintf(conv, `(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\)'))[1]`)
	hi := fmt.Sprintf(conv, `(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']*)''\)'))[1]`)
	err = db.bun.NewRaw(`SELECT c.relname AS name, `+lo+` AS lo, `+hi+` AS hi
		FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
		WHERE i.inhparent = ?::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'`, table).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("list the partitions of %s: %w", table, interpretError(err))
	}
	parse := func(s sql.NullString) (time.Time, error) {
		switch {
		case !s.Valid: // MINVALUE or MAXVALUE
			return time.Time{}, nil
		case k.byID:
			return uuidTime(s.String)
		default:
			return time.Parse(time.RFC3339Nano, s.String)
		}
	}
	out := make([]retention.Partition, 0, len(rows))
	for _, r := range rows {
		p := retention.Partition{Name: r.Name}
		if p.From, err = parse(r.Lo); err != nil {
			return nil, false, err
		}
		if p.To, err = parse(r.Hi); err != nil {
			return nil, false, err
		}
		if p.To.IsZero() {
			return nil, false, fmt.Errorf("partition %s of %s has no upper bound", r.Name, table)
		}
		out = append(out, p)
	}
	sortPartitions(out)
	return out, true, nil
}

func sortPartitions(ps []retention.Partition) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].To.Before(ps[j-1].To); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// PartitionName is the name of table's partition that starts at from.
func PartitionName(table string, from time.Time) string {
	return table + "_p" + from.UTC().Format("20060102t1504")
}

// PartitionCreate implements retention.Store: it creates the partition [from, to) of table.
// Rows of that range already in the default partition (written before the partition existed)
// are moved into it in the same transaction, since PostgreSQL refuses to create a partition
// whose rows the default partition holds. Writes to the table wait while it runs (the table is
// locked SHARE ROW EXCLUSIVE, at most partitionLockTimeout); reads go on. A partition of that
// name that exists already (another janitor made it first) is left as it is.
func (db *DB) PartitionCreate(ctx context.Context, table string, from, to time.Time) (string, error) {
	k, err := partitionKeyOf(table)
	if err != nil {
		return "", err
	}
	name := PartitionName(table, from)
	def := table + "_default"
	inRange := fmt.Sprintf("%s >= %s AND %s < %s", k.column, k.bound(from), k.column, k.bound(to))
	err = db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, stmt := range []string{
			"SET LOCAL lock_timeout = '" + partitionLockTimeout + "'",
			"LOCK TABLE " + table + " IN SHARE ROW EXCLUSIVE MODE",
			"CREATE TEMP TABLE partition_move (LIKE " + table + ") ON COMMIT DROP",
			"WITH moved AS (DELETE FROM " + def + " WHERE " + inRange + " RETURNING *) INSERT INTO partition_move SELECT * FROM moved",
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)", name, table, k.bound(from), k.bound(to)),
			"INSERT INTO " + name + " SELECT * FROM partition_move",
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("create partition %s: %w", name, interpretError(err))
	}
	return name, nil
}

// PartitionDropExpired implements retention.Store: it drops the partition name of table when
// every row in it has expired under rules, and returns how many rows it held (0, false when it
// stays). An executions partition has expired when it holds no unfinished execution and, for
// every deployment with rows in it, its newest row was created before the deployment's
// Before and is older than its keep-last cutoff; a fire ledger partition when, for every
// deployment with rows in it, its newest row was written (created_at) before Before. A
// deployment without a rule keeps its rows. The check reads one index entry per deployment in
// the partition (a skip scan of its deployment index). It is made once without a lock and, when
// it passes, again under the table's ACCESS EXCLUSIVE lock, with the DROP (at most
// partitionLockTimeout of waiting).
func (db *DB) PartitionDropExpired(ctx context.Context, table, name string, rules []retention.Rule) (int64, bool, error) {
	if _, err := partitionKeyOf(table); err != nil {
		return 0, false, err
	}
	if !strings.HasPrefix(name, table+"_") || strings.ContainsAny(name, `"; `) {
		return 0, false, fmt.Errorf("drop partition %q of %s: not one of its partitions", name, table)
	}
	live, err := partitionLive(ctx, db.bun, table, name, rules)
	if err != nil || live {
		return 0, false, err
	}
	var rows int64
	if err := db.bun.NewRaw("SELECT count(*) FROM "+name).Scan(ctx, &rows); err != nil {
		return 0, false, fmt.Errorf("count the rows of partition %s: %w", name, interpretError(err))
	}
	dropped := false
	err = db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '"+partitionLockTimeout+"'"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
			return err
		}
		var exists bool
		if err := tx.NewRaw("SELECT to_regclass(?) IS NOT NULL", name).Scan(ctx, &exists); err != nil || !exists {
			return err // another janitor dropped it first
		}
		live, err := partitionLive(ctx, tx, table, name, rules)
		if err != nil || live {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DROP TABLE "+name); err != nil {
			return err
		}
		dropped = true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("drop partition %s: %w", name, interpretError(err))
	}
	if !dropped {
		return 0, false, nil
	}
	return rows, true, nil
}

// partitionLive says whether partition name of table holds a row that rules keep.
func partitionLive(ctx context.Context, q bun.IDB, table, name string, rules []retention.Rule) (bool, error) {
	var values strings.Builder
	args := make([]any, 0, 5*len(rules)+1)
	for i, r := range rules {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(?::uuid, ?::timestamptz, ?::timestamptz, ?::uuid, ?::boolean)")
		var keepAt, keepID any
		if !r.KeepFrom.IsZero() {
			keepAt, keepID = micro(r.KeepFrom.CreatedAt), r.KeepFrom.ID
		}
		args = append(args, r.DeploymentID, micro(r.Before), keepAt, keepID, r.KeepAll)
	}
	if len(rules) == 0 {
		values.WriteString("(NULL::uuid, NULL::timestamptz, NULL::timestamptz, NULL::uuid, NULL::boolean)")
	}
	// The partition's deployments, one index step each (a loose index scan). Executions have no
	// index by deployment but one by workflow (see workflowOfDeployment): their walk is over
	// workflow ids, each mapped to its deployment; the fire ledger's is over deployment ids.
	key, deployment := "deployment_id", "d.k"
	if table == retention.TableExecutions {
		key, deployment = "workflow_id", "(SELECT deployment_id FROM workflows WHERE id = d.k)"
	}
	var newest, expired string
	if table == retention.TableExecutions {
		newest = `SELECT created_at, id FROM ` + name + ` WHERE ` + key + ` = d.k
			ORDER BY created_at DESC, id DESC LIMIT 1`
		expired = `m.created_at < r.before AND NOT r.keep_all
			AND (r.keep_at IS NULL OR (m.created_at, m.id) < (r.keep_at, r.keep_id))`
	} else {
		newest = `SELECT created_at, NULL::uuid AS id FROM ` + name + ` WHERE ` + key + ` = d.k
			ORDER BY created_at DESC LIMIT 1`
		expired = `m.created_at < r.before`
	}
	unfinished := "FALSE"
	if table == retention.TableExecutions {
		unfinished = "EXISTS (SELECT 1 FROM " + name + " WHERE status IN ('PENDING','RUNNING'))"
	}
	query := `WITH RECURSIVE r (deployment_id, before, keep_at, keep_id, keep_all) AS (VALUES ` + values.String() + `),
		d (k) AS (
			(SELECT ` + key + ` FROM ` + name + ` ORDER BY ` + key + ` LIMIT 1)
			UNION ALL
			SELECT (SELECT ` + key + ` FROM ` + name + ` WHERE ` + key + ` > d.k ORDER BY ` + key + ` LIMIT 1)
			FROM d WHERE d.k IS NOT NULL)
		SELECT ` + unfinished + ` OR EXISTS (
			SELECT 1 FROM d CROSS JOIN LATERAL (` + newest + `) AS m
			LEFT JOIN r ON r.deployment_id = ` + deployment + `
			WHERE d.k IS NOT NULL AND (r.deployment_id IS NULL OR NOT (` + expired + `)))`
	var live bool
	if err := q.NewRaw(query, args...).Scan(ctx, &live); err != nil {
		return false, fmt.Errorf("check partition %s: %w", name, interpretError(err))
	}
	return live, nil
}
