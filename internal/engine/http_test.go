package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// received is what the test server saw of one request.
type received struct {
	method, path, header, apiKey, contentType, body string
}

// httpServer answers every request with status, contentType and body, and sends what it received
// on the returned channel (buffered).
func httpServer(t *testing.T, status int, contentType, body string) (*httptest.Server, <-chan received) {
	t.Helper()
	got := make(chan received, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{method: r.Method, path: r.URL.Path, header: r.Header.Get("X-Test"), apiKey: r.Header.Get("X-Api-Key"), contentType: r.Header.Get("Content-Type"), body: string(b)}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestHTTPNodeJSONResponse(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv, got := httpServer(t, http.StatusCreated, "application/json; charset=utf-8", `{"id":7,"ok":true}`)
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("",
		node("call", "http", map[string]any{
			"method":  "post",
			"url":     srv.URL + "/items",
			"headers": map[string]any{"X-Test": "yes"},
			"body":    map[string]any{"name": "x"},
			"timeout": "5s",
		}),
		node("use", "transform", map[string]any{"expression": `deps.call.status == 201 && deps.call.status < 300 ? deps.call.body.id : -1`}, "call"),
	))
	is.NoErr(err)
	is.Equal(output(t, res), map[string]any{"use": 7.0}) // the JSON body is parsed, status compares with ints

	r := <-got
	is.Equal(r.method, http.MethodPost)
	is.Equal(r.path, "/items")
	is.Equal(r.header, "yes")                   // headers sent
	is.Equal(r.contentType, "application/json") // JSON body gets its content type
	is.Equal(r.body, `{"name":"x"}`)            // body JSON-encoded
}

func TestHTTPNodeOutputShape(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv, got := httpServer(t, http.StatusOK, "text/plain", "hello")
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{
		"url":     srv.URL,
		"body":    "raw text",
		"headers": map[string]any{"Content-Type": "text/csv"},
	})))
	is.NoErr(err)
	call := output(t, res)["call"].(map[string]any)
	is.Equal(call["status"], 200.0)
	is.Equal(call["body"], "hello") // not JSON: a string
	headers := call["headers"].(map[string]any)
	is.Equal(headers["X-Multi"], "one, two") // multiple values joined
	is.Equal(headers["Content-Type"], "text/plain")

	r := <-got
	is.Equal(r.method, http.MethodGet) // default method
	is.Equal(r.body, "raw text")       // a string body is sent as is
	is.Equal(r.contentType, "text/csv")
}

func TestHTTPNodeInvalidJSONBodyIsAString(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv, _ := httpServer(t, http.StatusOK, "application/problem+json", "{not json")
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": srv.URL})))
	is.NoErr(err)
	is.Equal(output(t, res)["call"].(map[string]any)["body"], "{not json")
}

func TestHTTPNodeStatusFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		retryable bool
	}{
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusTooManyRequests, true},
		{http.StatusNotFound, false},
		{http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			srv, _ := httpServer(t, tt.status, "text/plain", "nope")
			b := setup(t, Config{})

			res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": srv.URL})))
			is.NoErr(err)
			is.True(res.Failure != nil)
			is.Equal(res.Failure.NodeID, "call")
			is.Equal(res.Failure.Retryable, tt.retryable)
			is.True(!strings.Contains(res.Failure.Message, "nope"))                                                            // never the body
			is.True(strings.Contains(res.Failure.Message, fmt.Sprintf("status %d %s", tt.status, http.StatusText(tt.status)))) // the status
		})
	}
}

func TestHTTPNodeResponseTooLarge(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv, _ := httpServer(t, http.StatusOK, "text/plain", strings.Repeat("x", 100))
	b := setup(t, Config{MaxResponseBytes: 10})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": srv.URL})))
	is.NoErr(err)
	is.True(res.Failure != nil)
	is.True(strings.Contains(res.Failure.Message, "larger than 10 bytes"))
	is.True(!res.Failure.Retryable)
}

func TestHTTPNodeTimeout(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": srv.URL, "timeout": "20ms"})))
	is.NoErr(err) // the node's own timeout is a failure, not the caller's deadline
	is.True(res.Failure != nil)
	is.True(res.Failure.Retryable)
	is.True(strings.Contains(res.Failure.Message, "no response within 20ms"))
}

func TestHTTPNodeTransportError(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": url})))
	is.NoErr(err)
	is.True(res.Failure != nil)
	is.True(res.Failure.Retryable) // connection refused may heal
}

func TestHTTPNodeCancelled(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	b := setup(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()

	_, err := b.eng.Execute(ctx, request("", node("call", "http", map[string]any{"url": srv.URL})))
	is.True(errors.Is(err, context.Canceled)) // the caller's cancellation is an error, not a failure
}

func TestResponseBody(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(responseBody("application/json", []byte(`[1]`)), []any{1.0})
	is.Equal(responseBody("", []byte(`[1]`)), "[1]")
}
