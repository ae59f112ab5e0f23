package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

type notifier interface {
	Publish(ctx context.Context, channel, payload string) error
	Subscribe(ctx context.Context, channel string, fn func(payload string)) (func(), error)
}

func TestContract(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(t *testing.T) notifier{
		"local": func(t *testing.T) notifier { return notify.NewLocal() },
		"redis": func(t *testing.T) notifier {
			return notify.NewRedis(testenv.RedisPrefixed(t))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			n := mk(t)
			got := make(chan string, 10)
			unsubscribe, err := n.Subscribe(ctx, "c", func(p string) { got <- p })
			is.NoErr(err)
			other := make(chan string, 10)
			unsubOther, err := n.Subscribe(ctx, "d", func(p string) { other <- p })
			is.NoErr(err)
			defer unsubOther()
			is.NoErr(n.Publish(ctx, "c", "hello"))
			select {
			case p := <-got:
				is.Equal(p, "hello")
			case <-time.After(5 * time.Second):
				t.Fatal("no message within 5s")
			}
			unsubscribe()
			unsubscribe() // idempotent
			is.NoErr(n.Publish(ctx, "c", "after"))
			is.NoErr(n.Publish(ctx, "d", "to d"))
			select {
			case p := <-other:
				is.Equal(p, "to d") // other channel still subscribed
			case <-time.After(5 * time.Second):
				t.Fatal("no message on d within 5s")
			}
			select {
			case p := <-got:
				t.Fatalf("received %q after unsubscribe", p)
			default:
			}
		})
	}
}

// TestRedisGap: when the subscription's connection is lost (the server restarts), go-redis
// subscribes again by itself; the gap callback says so, and payloads flow again after it.
func TestRedisGap(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := testenv.StartRedis(t)
	opts, err := redis.ParseURL(srv.URL())
	is.NoErr(err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	n := notify.NewRedis(client, "")

	got := make(chan string, 10)
	gaps := make(chan struct{}, 10)
	unsubscribe, err := n.SubscribeWithGaps(t.Context(), "c", func(p string) { got <- p }, func() { gaps <- struct{}{} })
	is.NoErr(err)
	defer unsubscribe()
	is.NoErr(n.Publish(t.Context(), "c", "before"))
	is.Equal(receive(t, got), "before")
	select {
	case <-gaps:
		t.Fatal("gap reported without a lost connection")
	default:
	}

	srv.Stop()
	srv.Start()
	select {
	case <-gaps:
	case <-time.After(30 * time.Second):
		t.Fatal("no gap reported within 30s of the restart")
	}
	is.NoErr(n.Publish(t.Context(), "c", "after"))
	is.Equal(receive(t, got), "after") // subscribed again
}

// TestLocalSubscribeWithGaps: in process nothing is lost; SubscribeWithGaps is Subscribe.
func TestLocalSubscribeWithGaps(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	n := notify.NewLocal()
	got := make(chan string, 1)
	unsubscribe, err := n.SubscribeWithGaps(t.Context(), "c", func(p string) { got <- p }, func() { t.Error("gap in process") })
	is.NoErr(err)
	defer unsubscribe()
	is.NoErr(n.Publish(t.Context(), "c", "x"))
	is.Equal(receive(t, got), "x")
}

func receive(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case p := <-c:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return ""
	}
}
