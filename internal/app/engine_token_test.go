package app_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// engineTokenRefused is the log message of a worker whose token the remote engine refuses.
const engineTokenRefused = "the remote engine refused WFR_ENGINE_TOKEN"

// TestWorkerReadinessEngineToken: a worker whose WFR_ENGINE_TOKEN the remote engine refuses
// (unknown, missing, or without the engine scope) is not ready and says why, on /readyz and
// once in its log; with a token the engine accepts it is ready. An engine that is down still
// makes it not ready for that reason, not the token's.
func TestWorkerReadinessEngineToken(t *testing.T) {
	t.Parallel()
	tokens := writeTokens(t, "")
	eng := startWithAuth(t, config.RoleEngine, tokens, nil)
	closed, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + closed.Addr().String()
	if err := closed.Close(); err != nil { // nothing listens there now: connections are refused
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, engineURL, token string
		status                 int
		reason                 string // in the /readyz body
	}{
		{"the engine's token", "", scopeTokens[auth.ScopeEngine], http.StatusOK, "ok"},
		{"an admin token", "", scopeTokens[auth.ScopeAdmin], http.StatusOK, "ok"},
		{"a token nobody issued", "", "none-of-it-0123456789", http.StatusServiceUnavailable,
			"workflow_engine: engine refused the token: unauthenticated"},
		{"no token", "", "", http.StatusServiceUnavailable,
			"workflow_engine: engine refused the token: unauthenticated (WFR_ENGINE_TOKEN is empty)"},
		{"a token without the engine scope", "", scopeTokens[auth.ScopeRead], http.StatusServiceUnavailable,
			"workflow_engine: engine refused the token: permission_denied"},
		{"engine down", down, scopeTokens[auth.ScopeEngine], http.StatusServiceUnavailable,
			"workflow_engine: Get \"" + down + "/livez\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			log := make(messages, 1000)
			worker := startLogged(t, config.RoleWorker, "", func(c *config.Config) {
				c.RedisURL = testenv.RedisDatabase(t)
				c.EngineURL = "http://" + eng.Addr()
				if tc.engineURL != "" {
					c.EngineURL = tc.engineURL
				}
				c.EngineToken = tc.token
			}, slog.New(log))
			for range 3 {
				status, body := readyz(t, worker)
				is.Equal(status, tc.status)                // ready, or not
				is.True(strings.Contains(body, tc.reason)) // and why
			}
			refusals := 0
			for len(log) > 0 {
				if <-log == engineTokenRefused {
					refusals++
				}
			}
			if tc.status == http.StatusOK || tc.engineURL != "" {
				is.Equal(refusals, 0) // accepted, or not asked: the engine is down
			} else {
				is.Equal(refusals, 1) // said once, at start
			}
		})
	}
}

// readyz is the status and body of a's GET /readyz.
func readyz(t *testing.T, a *app.App) (int, string) {
	t.Helper()
	res := httpGet(t, "http://"+a.Addr()+"/readyz")
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("/readyz: %d %s", res.StatusCode, strings.TrimSpace(string(body)))
	return res.StatusCode, string(body)
}
