// Package notify carries small, best-effort signals between processes: cancellation requests to
// the worker that runs an execution, deployment changes to every scheduler, execution changes
// to the api processes that stream them (WatchExecutions). A lost signal must never lose work:
// each consumer also has a slower way to learn the same fact (a worker polls its execution's
// cancel_requested; schedulers and watches resync from the database, watches at once when a
// subscription says it had a gap).
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
	return r.SubscribeWithGaps(ctx, channel, fn, nil)
}

// SubscribeWithGaps is Subscribe that also says when payloads may have been missed: the
// subscription's connection was lost, and go-redis has connected and subscribed again by
// itself; whatever was published in between is gone. gap (may be nil) is called then, after
// the new subscription is active, from the goroutine that calls fn.
func (r *Redis) SubscribeWithGaps(ctx context.Context, channel string, fn func(payload string), gap func()) (func(), error) {
	sub := r.client.Subscribe(context.WithoutCancel(ctx), r.prefix+channel)
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		_ = sub.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", channel, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The first confirmation was read above; a *redis.Subscription here is a resubscription.
		for m := range sub.ChannelWithSubscriptions() {
			switch m := m.(type) {
			case *redis.Message:
				fn(m.Payload)
			case *redis.Subscription:
				if gap != nil && m.Kind == "subscribe" {
					gap()
				}
			}
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

// SubscribeWithGaps is Subscribe: nothing is lost in process, so gap is never called.
func (l *Local) SubscribeWithGaps(ctx context.Context, channel string, fn func(payload string), _ func()) (func(), error) {
	return l.Subscribe(ctx, channel, fn)
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
