package app_test

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestDashboard: with WFR_UI=on the dashboard is at /ui/ (and the root sends a browser there)
// without a token, while the API still needs one; off, neither is served.
func TestDashboard(t *testing.T) {
	t.Parallel()
	tokens := writeTokens(t, "")
	const health = workflowruntimev1connect.WorkflowRuntimeServiceGetSystemHealthProcedure

	t.Run("on", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		a := startWithAuth(t, config.RoleAll, tokens, func(c *config.Config) { c.UI = "on" })
		base := "http://" + a.Addr()
		res := httpGet(t, base+"/ui/")
		_ = res.Body.Close()
		is.Equal(res.StatusCode, http.StatusOK) // no token needed for the page
		is.True(strings.HasPrefix(res.Header.Get("Content-Type"), "text/html"))

		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/", nil)
		is.NoErr(err)
		res, err = noRedirect.Do(req)
		is.NoErr(err)
		_ = res.Body.Close()
		is.Equal(res.StatusCode, http.StatusFound)
		is.Equal(res.Header.Get("Location"), "/ui/") // the root leads to the dashboard

		is.Equal(status(t, base+"/ui/", "evil.example.com", ""), http.StatusMisdirectedRequest)       // the Host check still holds
		is.Equal(callAs(t, base, health, "", false, false), connect.CodeUnauthenticated)              // the API still needs a token
		is.Equal(callAs(t, base, health, scopeTokens[auth.ScopeRead], false, false), connect.Code(0)) // and takes it
	})

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		a := startWithAuth(t, config.RoleAll, tokens, nil)
		is.Equal(status(t, "http://"+a.Addr()+"/ui/", "", ""), http.StatusNotFound)
	})

	t.Run("from a directory", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		dir := t.TempDir()
		is.NoErr(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>a dashboard being worked on</p>"), 0o600))
		a := startWithAuth(t, config.RoleAll, tokens, func(c *config.Config) { c.UI = "on"; c.UIDir = dir })
		res := httpGet(t, "http://"+a.Addr()+"/ui/")
		defer func() { _ = res.Body.Close() }()
		is.Equal(res.StatusCode, http.StatusOK)
	})

	t.Run("directory without index.html", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		cfg := config.Default()
		cfg.Addr = "127.0.0.1:0"
		cfg.DatabaseURL = "sqlite::memory:"
		cfg.UI = "on"
		cfg.UIDir = t.TempDir()
		a, err := app.New(cfg, slog.New(slog.DiscardHandler))
		is.NoErr(err)
		err = a.Start(t.Context())
		_ = a.Stop(t.Context())
		is.True(err != nil)                                  // refuses to start
		is.True(strings.Contains(err.Error(), "WFR_UI_DIR")) // names the setting
	})
}
