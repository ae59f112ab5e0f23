package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// riverConfig configures a River peer.
type riverConfig struct {
	// DatabaseURL is the PostgreSQL database; River's tables go into a schema of their own,
	// created for the run and dropped after it.
	DatabaseURL string
	// Workers is the default queue's MaxWorkers.
	Workers int
	// MaxConns is the pgx pool's size.
	MaxConns int32
	// FetchCooldown is River's FetchCooldown (its default is 100 ms, its minimum 1 ms).
	FetchCooldown time.Duration
}

// noopArgs is the job of both peers: a sequence number and the client's clock just before the
// enqueue call (Unix nanoseconds), read by the worker to record the pickup (River uses its row's
// created_at instead).
type noopArgs struct {
	Seq        int64 `json:"seq"`
	EnqueuedAt int64 `json:"at"`
}

// Kind is River's job kind.
func (noopArgs) Kind() string { return "peers_noop" }

// riverWorker is the noop worker.
type riverWorker struct {
	river.WorkerDefaults[noopArgs]
	rec *recorder
}

// Work records the pickup from the job row's created_at (set by PostgreSQL in the insert, as the
// service's execution row's is), not from the client's clock before the Insert call.
func (w *riverWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	w.rec.started(job.Args.Seq, job.CreatedAt.UnixNano())
	w.rec.done.Add(1)
	return nil
}

// riverPeer is a River client with its workers started, in a schema of its own.
type riverPeer struct {
	pool   *pgxpool.Pool
	schema string
	client *river.Client[pgx.Tx]
}

// startRiver creates the schema, migrates River into it and starts a client working the
// default queue with the noop worker reporting to rec.
func startRiver(ctx context.Context, cfg riverConfig, rec *recorder) (*riverPeer, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	p := &riverPeer{pool: pool, schema: fmt.Sprintf("peers_river_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000)}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+p.schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("create schema %s: %w", p.schema, err)
	}
	fail := func(err error) (*riverPeer, error) {
		p.drop()
		return nil, err
	}
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: p.schema, Logger: quietLogger()})
	if err != nil {
		return fail(fmt.Errorf("river migrator: %w", err))
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fail(fmt.Errorf("migrate River into %s: %w", p.schema, err))
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &riverWorker{rec: rec})
	p.client, err = river.NewClient(driver, &river.Config{
		Schema:        p.schema,
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:       workers,
		FetchCooldown: cfg.FetchCooldown,
		Logger:        quietLogger(),
	})
	if err != nil {
		return fail(fmt.Errorf("river client: %w", err))
	}
	if err := p.client.Start(ctx); err != nil {
		return fail(fmt.Errorf("start River client: %w", err))
	}
	return p, nil
}

// enqueue inserts one noop job (its own transaction, as River's Insert does).
func (p *riverPeer) enqueue(ctx context.Context, seq int64) error {
	_, err := p.client.Insert(ctx, noopArgs{Seq: seq, EnqueuedAt: time.Now().UnixNano()}, nil)
	return err
}

// completed counts the jobs River has marked completed in its table (its completer records
// them in batches after the worker returns).
func (p *riverPeer) completed(ctx context.Context, _ *recorder) (int64, error) {
	var n int64
	err := p.pool.QueryRow(ctx, "SELECT count(*) FROM "+p.schema+".river_job WHERE state = 'completed'").Scan(&n)
	return n, err
}

// stop stops the client (waiting for running jobs) and drops the schema.
func (p *riverPeer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.client.Stop(ctx); err != nil {
		slog.Warn("stop River client", "err", err)
	}
	p.drop()
}

func (p *riverPeer) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+p.schema+" CASCADE"); err != nil {
		slog.Warn("drop River's schema", "schema", p.schema, "err", err)
	}
	p.pool.Close()
}

// quietLogger logs warnings and errors to stderr only.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
