package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/waitlist"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
)

// backends are the coordination parts: Redis when a client is given, in process otherwise.
type backends struct {
	locker   lock.Manager
	queue    queueService
	waitlist execution.Waitlist
	notifier notifier
}

// notifier carries cancellations and changes to the workers and to the watches.
type notifier interface {
	execution.Notifier
	watch.Subscriber
}

// queueService is the queue with its lifecycle (the mover of delayed messages).
type queueService interface {
	queue.Queue
	Start(ctx context.Context) error
	Stop()
}

func newBackends(client *redis.Client, logger *slog.Logger) *backends {
	if client == nil {
		return &backends{
			locker:   lock.NewLocalManager(lock.LocalConfig{}),
			queue:    queue.NewLocalQueue(queue.LocalConfig{MoveInterval: 50 * time.Millisecond}),
			waitlist: waitlist.NewLocal(),
			notifier: notify.NewLocal(),
		}
	}
	return &backends{
		locker:   lock.NewRedisManager(client, lock.RedisConfig{}),
		queue:    queue.NewRedisQueue(client, queue.RedisConfig{Logger: logger}),
		waitlist: waitlist.NewRedis(client, ""),
		notifier: notify.NewRedis(client, ""),
	}
}
