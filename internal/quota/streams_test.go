package quota_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/quota"
)

// fakeConn is the part of a streaming handler connection the limiter reads.
type fakeConn struct {
	connect.StreamingHandlerConn
	procedure string
	addr      string
}

func (c fakeConn) Spec() connect.Spec { return connect.Spec{Procedure: c.procedure} }
func (c fakeConn) Peer() connect.Peer { return connect.Peer{Addr: c.addr} }

// TestStreamLimiter: streams beyond the bound per caller (a token's name, else the client's IP),
// then beyond the bound in all, are refused with resource_exhausted before their handler runs;
// a stream that ends frees its slot; other procedures are not counted.
func TestStreamLimiter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	l := quota.NewStreamLimiter(quota.StreamConfig{Max: 4, PerCaller: 2, Procedures: []string{"/svc/Watch"}})

	release := make(chan struct{})
	started := make(chan struct{}, 10)
	handler := l.WrapStreamingHandler(func(context.Context, connect.StreamingHandlerConn) error {
		started <- struct{}{}
		<-release
		return nil
	})
	results := make(chan error, 10)
	open := func(ctx context.Context, addr string) {
		go func() { results <- handler(ctx, fakeConn{procedure: "/svc/Watch", addr: addr}) }()
		<-started
	}
	call := func(ctx context.Context, addr string) error {
		return handler(ctx, fakeConn{procedure: "/svc/Watch", addr: addr})
	}
	anonymous := context.Background()
	dash := auth.WithIdentity(context.Background(), &auth.Identity{Name: "dash"})

	open(anonymous, "10.0.0.1:1000")
	open(anonymous, "10.0.0.1:1001") // the same caller: its IP
	err := call(anonymous, "10.0.0.1:1002")
	is.Equal(connect.CodeOf(err), connect.CodeResourceExhausted) // a third for one caller
	is.True(strings.Contains(err.Error(), "this caller"))
	open(dash, "10.0.0.5:1000")
	open(dash, "10.0.0.6:1000") // a token's name is the caller, whatever its address
	is.Equal(l.Open(), 4)
	err = call(anonymous, "10.0.0.9:1000")
	is.Equal(connect.CodeOf(err), connect.CodeResourceExhausted) // a fifth in all
	is.True(strings.Contains(err.Error(), "this server"))

	// Another procedure passes through.
	other := l.WrapStreamingHandler(func(context.Context, connect.StreamingHandlerConn) error { return errors.New("ran") })
	is.Equal(other(anonymous, fakeConn{procedure: "/svc/Other", addr: "10.0.0.1:1"}).Error(), "ran")

	close(release)
	for range 4 {
		is.NoErr(<-results)
	}
	is.Equal(l.Open(), 0) // every slot freed

	is.True(quota.NewStreamLimiter(quota.StreamConfig{}) == nil) // no bound, no limiter
	unary := func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) { return nil, nil }
	is.True(l.WrapUnary(unary) != nil)
	is.True(l.WrapStreamingClient(func(context.Context, connect.Spec) connect.StreamingClientConn { return nil }) != nil)
}
