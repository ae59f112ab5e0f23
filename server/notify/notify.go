// Package notify carries small, best-effort signals between processes: cancellation requests to
// the worker that runs an execution, deployment changes to every scheduler. A lost signal must
// never lose work: each consumer also has a slower way to learn the same fact (a worker polls its
// execution's cancel_requested; schedulers resync from the database).
package notify

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Redis publishes over Redis pub/sub on Prefix+channel.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Redis notifier; prefix namespaces its channels (default "wfr:").
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "wfr:"
	}
	return &Redis{client: client, prefix: prefix}
}

// Publish sends payload to every current subscriber of channel.
func (r *Redis) Publish(ctx context.Context, channel, payload string) error {
	if err := r.client.Publish(ctx, r.prefix+channel, payload).Err(); err != nil {
		return fmt.Errorf("publish on %s: %w", channel, err)
	}
	return nil
}

// Subscribe calls fn for every payload published on channel until unsubscribe is called. It
// returns once the subscription is active, so a Publish after it is seen.
func (r *Redis) Subscribe(ctx context.Context, channel string, fn func(payload string)) (func(), error) {
	sub := r.client.Subscribe(context.WithoutCancel(ctx), r.prefix+channel)
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		_ = sub.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", channel, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.Channel() {
			fn(m.Payload)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = sub.Close()
			<-done
		})
	}, nil
}

// Local delivers in process, for the embedded mode.
type Local struct {
	mu   sync.Mutex
	next int
	subs map[string]map[int]func(string)
}

// NewLocal returns a Local notifier.
func NewLocal() *Local { return &Local{subs: map[string]map[int]func(string){}} }

// Publish calls every subscriber of channel synchronously.
func (l *Local) Publish(_ context.Context, channel, payload string) error {
	l.mu.Lock()
	fns := make([]func(string), 0, len(l.subs[channel]))
	for _, fn := range l.subs[channel] {
		fns = append(fns, fn)
	}
	l.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
	return nil
}

// Subscribe registers fn for channel.
func (l *Local) Subscribe(_ context.Context, channel string, fn func(payload string)) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := l.next
	l.next++
	if l.subs[channel] == nil {
		l.subs[channel] = map[int]func(string){}
	}
	l.subs[channel][id] = fn
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.subs[channel], id)
	}, nil
}
