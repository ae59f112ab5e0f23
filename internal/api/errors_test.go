package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// TestToConnectUnavailable: a dependency that does not answer is unavailable (which gateways
// retry), never internal, and the caller does not see the driver's message.
func TestToConnectUnavailable(t *testing.T) {
	t.Parallel()
	h := &Handler{logger: slog.New(slog.DiscardHandler)}

	// Redis down: a real client's error against a port nobody listens on.
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	redisErr := client.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []any{"k", "v"}}).Err()
	if redisErr == nil {
		t.Fatal("XADD to a closed port succeeded")
	}

	for _, tt := range []struct {
		name string
		err  error
		want connect.Code
	}{
		{"store unavailable", fmt.Errorf("record execution: %w: database: dial refused", errdefs.ErrUnavailable), connect.CodeUnavailable},
		{"redis down", fmt.Errorf("queue stats: %w", redisErr), connect.CodeUnavailable},
		{"connection closed mid-answer", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), connect.CodeUnavailable},
		{"caller's deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), connect.CodeDeadlineExceeded},
		{"unknown", errors.New("boom"), connect.CodeInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			var cerr *connect.Error
			is.True(errors.As(h.toConnect(t.Context(), tt.err), &cerr))
			is.Equal(cerr.Code(), tt.want)
			if tt.want == connect.CodeUnavailable {
				is.Equal(cerr.Message(), "a dependency is unavailable; retry") // no host or user names
			}
		})
	}
}
