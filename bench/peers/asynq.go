package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// asynqConfig configures an asynq peer.
type asynqConfig struct {
	// RedisURL is the Redis database; it must hold only asynq's keys (or none) and is flushed
	// before and after the run.
	RedisURL string
	// Workers is the server's Concurrency.
	Workers int
	// TaskCheckInterval is the server's TaskCheckInterval; 0 keeps asynq's default (1 s).
	TaskCheckInterval time.Duration
}

const asynqTaskType = "peers:noop"

// asynqPeer is an asynq client and a server working the default queue.
type asynqPeer struct {
	rdb    *redis.Client
	client *asynq.Client
	server *asynq.Server
}

// startAsynq checks that the database holds only asynq's keys, flushes it and starts the
// server with the noop handler reporting to rec.
func startAsynq(ctx context.Context, cfg asynqConfig, rec *recorder) (*asynqPeer, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("parse Redis URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	if err := flushAsynqDB(ctx, rdb); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	conn := asynq.RedisClientOpt{Addr: opts.Addr, Username: opts.Username, Password: opts.Password, DB: opts.DB, PoolSize: cfg.Workers + 16}
	p := &asynqPeer{rdb: rdb, client: asynq.NewClient(conn)}
	p.server = asynq.NewServer(conn, asynq.Config{
		Concurrency:       cfg.Workers,
		TaskCheckInterval: cfg.TaskCheckInterval,
		LogLevel:          asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(asynqTaskType, func(_ context.Context, t *asynq.Task) error {
		var a noopArgs
		if err := json.Unmarshal(t.Payload(), &a); err != nil {
			return err
		}
		rec.started(a.Seq, a.EnqueuedAt)
		rec.done.Add(1)
		return nil
	})
	if err := p.server.Start(mux); err != nil {
		_ = p.client.Close()
		_ = rdb.Close()
		return nil, fmt.Errorf("start asynq server: %w", err)
	}
	return p, nil
}

// flushAsynqDB flushes the database when every key in it is asynq's, and refuses otherwise.
func flushAsynqDB(ctx context.Context, rdb *redis.Client) error {
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.HasPrefix(iter.Val(), "asynq:") {
			return fmt.Errorf("redis database %d holds %q, not asynq's: refusing to flush it; use a database of its own (--redis-url …/15)", rdb.Options().DB, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan redis database %d: %w", rdb.Options().DB, err)
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis database %d: %w", rdb.Options().DB, err)
	}
	return nil
}

// enqueue enqueues one noop task (asynq's defaults: queue "default", 25 retries, no retention).
func (p *asynqPeer) enqueue(ctx context.Context, seq int64) error {
	b, err := json.Marshal(noopArgs{Seq: seq, EnqueuedAt: time.Now().UnixNano()})
	if err != nil {
		return err
	}
	_, err = p.client.EnqueueContext(ctx, asynq.NewTask(asynqTaskType, b))
	return err
}

// completed is the handler's count: asynq marks a task done (and, without retention, deletes
// it) right after its handler returns, in the same processor goroutine.
func (p *asynqPeer) completed(_ context.Context, rec *recorder) (int64, error) {
	return rec.done.Load(), nil
}

// stop shuts the server down (waiting for running tasks) and flushes the database.
func (p *asynqPeer) stop() {
	p.server.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := errors.Join(p.client.Close(), flushAsynqDB(ctx, p.rdb), p.rdb.Close())
	if err != nil {
		quietLogger().Warn("stop asynq", "err", err)
	}
}
