package bench

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// Counters of the servers the service uses, read before and after a round: what PostgreSQL
// and Redis did for it, per execution.

// pgCounters are the cumulative counters of the benchmark's database.
type pgCounters struct {
	// statements is the calls pg_stat_statements counted in this database (BEGIN and COMMIT
	// included), by statement text (shortened) in byStatement; dealloc is how many of its
	// entries it has evicted so far (an eviction loses counts). Without pg_stat_statements
	// statements is -1.
	statements  int64
	byStatement map[string]int64
	dealloc     int64
	// From pg_stat_database: transactions (commits and rollbacks; a statement outside a
	// transaction is one) and rows written.
	transactions               int64
	inserted, updated, deleted int64
}

// pgStats reads pgCounters of db's database.
type pgStats struct {
	db *store.DB
	// view is the qualified pg_stat_statements view when it answers, "" otherwise (why says
	// why).
	view, why string
}

// newPGStats finds out whether pg_stat_statements can count statements: it needs the library
// preloaded by the server (shared_preload_libraries) and the extension created in the
// database, which this creates when the library is loaded (CREATE EXTENSION, which needs the
// right to). Without it the counts come from pg_stat_database alone.
func newPGStats(ctx context.Context, db *store.DB) *pgStats {
	s := &pgStats{db: db}
	var preload string
	if err := db.Bun().NewRaw("SELECT current_setting('shared_preload_libraries')").Scan(ctx, &preload); err != nil {
		s.why = fmt.Sprintf("read shared_preload_libraries: %v", err)
		return s
	}
	if !strings.Contains(preload, "pg_stat_statements") {
		s.why = "pg_stat_statements is not in the server's shared_preload_libraries"
		return s
	}
	if _, err := db.Bun().ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		s.why = fmt.Sprintf("CREATE EXTENSION pg_stat_statements: %v", err)
		return s
	}
	var schema string
	if err := db.Bun().NewRaw("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_stat_statements'").Scan(ctx, &schema); err != nil {
		s.why = fmt.Sprintf("find pg_stat_statements: %v", err)
		return s
	}
	s.view = schema + ".pg_stat_statements"
	if _, err := s.read(ctx); err != nil {
		s.view, s.why = "", err.Error()
	}
	return s
}

// statementsSQL sums the calls of the current database's statements by their text, spaces
// folded and cut to 90 characters (statements that differ in a long VALUES list fall
// together).
const statementsSQL = `SELECT left(regexp_replace(s.query, '\s+', ' ', 'g'), 90) AS statement, sum(s.calls)::bigint AS calls
FROM %s s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() GROUP BY 1`

// read reads the counters now. It runs one statement (two more with pg_stat_statements).
func (s *pgStats) read(ctx context.Context) (pgCounters, error) {
	c := pgCounters{statements: -1}
	err := s.db.Bun().NewRaw(`SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted
FROM pg_stat_database WHERE datname = current_database()`).Scan(ctx,
		&c.transactions, &c.inserted, &c.updated, &c.deleted)
	if err != nil {
		return c, fmt.Errorf("read pg_stat_database: %w", err)
	}
	if s.view == "" {
		return c, nil
	}
	var rows []struct {
		Statement string `bun:"statement"`
		Calls     int64  `bun:"calls"`
	}
	if err := s.db.Bun().NewRaw(fmt.Sprintf(statementsSQL, s.view)).Scan(ctx, &rows); err != nil {
		return c, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	c.statements, c.byStatement = 0, make(map[string]int64, len(rows))
	for _, r := range rows {
		c.statements += r.Calls
		c.byStatement[r.Statement] += r.Calls
	}
	err = s.db.Bun().NewRaw("SELECT dealloc FROM "+s.view+"_info").Scan(ctx, &c.dealloc)
	if err != nil {
		return c, fmt.Errorf("read pg_stat_statements_info: %w", err)
	}
	return c, nil
}

// statementsPerRead is how many statements one read adds to the counters it reads next.
func (s *pgStats) statementsPerRead() int {
	if s.view == "" {
		return 1
	}
	return 3
}

// redisCounters are the cumulative counters of a Redis server (every database: the server's
// own figures).
type redisCounters struct {
	// commands are INFO commandstats calls by command, those run by Lua scripts included.
	commands map[string]int64
	// reads is total_reads_processed: read events on client connections, about one per round
	// trip (a pipeline arriving at once is one).
	reads int64
	// cpu is used_cpu_user + used_cpu_sys.
	cpu time.Duration
}

// readRedis reads the counters with one INFO.
func readRedis(ctx context.Context, rdb *redis.Client) (redisCounters, error) {
	info, err := rdb.Info(ctx, "commandstats", "stats", "cpu").Result()
	if err != nil {
		return redisCounters{}, fmt.Errorf("redis INFO: %w", err)
	}
	return parseRedisInfo(info)
}

// readRedisCPU reads used_cpu_user + used_cpu_sys with one INFO cpu; -1 when it fails.
func readRedisCPU(ctx context.Context, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return -1
	}
	c, err := parseRedisInfo(info)
	if err != nil {
		return -1
	}
	return c.cpu
}

// parseRedisInfo reads INFO's "key:value" lines: cmdstat_<command>:calls=N,…,
// total_reads_processed, used_cpu_user and used_cpu_sys.
func parseRedisInfo(info string) (redisCounters, error) {
	c := redisCounters{commands: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(key, "cmdstat_"):
			for kv := range strings.SplitSeq(value, ",") {
				if n, ok := strings.CutPrefix(kv, "calls="); ok {
					calls, err := strconv.ParseInt(n, 10, 64)
					if err != nil {
						return c, fmt.Errorf("redis INFO %s: %w", key, err)
					}
					c.commands[strings.TrimPrefix(key, "cmdstat_")] = calls
				}
			}
		case key == "total_reads_processed":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return c, fmt.Errorf("redis INFO %s: %w", key, err)
			}
			c.reads = n
		case key == "used_cpu_user" || key == "used_cpu_sys":
			f, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return c, fmt.Errorf("redis INFO %s: %w", key, err)
			}
			c.cpu += time.Duration(f * float64(time.Second))
		}
	}
	return c, sc.Err()
}
