package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/server/notify"
	"github.com/workflow-runtime/workflow-runtime/server/testenv"
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
