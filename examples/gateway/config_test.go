package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// routesFile writes a routes file and returns its path.
func routesFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "routes.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const oneRoute = `[{"path": "shop/orders", "workflow_id": "process-order", "secret_env": "SHOP_SECRET"}]`

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// The example file of the README.
	c, err := loadConfig([]string{"-timeout=3s"}, env(map[string]string{
		"GATEWAY_ROUTES":        "routes.example.json",
		"GATEWAY_TIMEOUT":       "7s", // the flag wins
		"GATEWAY_TOLERANCE":     "1m",
		"GATEWAY_RUNTIME_TOKEN": "tok",
		"SHOP_WEBHOOK_SECRET":   "whsec-0123456789abcdef",
	}))
	is.NoErr(err)
	is.Equal(c.timeout, 3*time.Second)
	is.Equal(c.tolerance, time.Minute)
	is.Equal(c.addr, "127.0.0.1:8090") // the default
	is.Equal(c.maxBody, int64(256<<10))
	is.Equal(c.runtimeToken, "tok")
	is.Equal(c.routes, []Route{{Path: "shop/hello", WorkflowID: "hello", Secret: []byte("whsec-0123456789abcdef")}})
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	secret := map[string]string{"SHOP_SECRET": "whsec-0123456789abcdef"}
	for _, tc := range []struct {
		name, routes string
		args         []string
		env          map[string]string
		want         string
	}{
		{"no routes file", "", []string{"-routes=/nonexistent/routes.json"}, secret, "no such file"},
		{"routes not JSON", "{", nil, secret, "unexpected EOF"},
		{"unknown field", `[{"path": "a", "workflow_id": "b", "secret": "inline"}]`, nil, secret, `unknown field "secret"`},
		{"no target", `[{"path": "a", "secret_env": "SHOP_SECRET"}]`, nil, secret, "route 0: path, secret_env and one of workflow_id and webhook_path are required"},
		{"two targets", `[{"path": "a", "workflow_id": "b", "webhook_path": "c", "secret_env": "SHOP_SECRET"}]`, nil, secret, "route 0: "},
		{"no secret_env", `[{"path": "a", "workflow_id": "b"}]`, nil, secret, "route 0: "},
		{"path twice", oneRoute[:len(oneRoute)-1] + "," + oneRoute[1:], nil, secret, `path "shop/orders" is routed twice`},
		{"secret not set", oneRoute, nil, nil, "SHOP_SECRET must hold a secret of at least 16 bytes"},
		{"secret short", oneRoute, nil, map[string]string{"SHOP_SECRET": "short"}, "at least 16 bytes"},
		{"bad env value", oneRoute, nil, map[string]string{"GATEWAY_TIMEOUT": "soon"}, "GATEWAY_TIMEOUT: "},
		{"bad flag", oneRoute, []string{"-max-body=big"}, secret, "invalid value"},
		{"zero timeout", oneRoute, []string{"-timeout=0s"}, secret, "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := map[string]string{"GATEWAY_ROUTES": routesFile(t, tc.routes)}
			for k, v := range tc.env {
				e[k] = v
			}
			_, err := loadConfig(append([]string{}, tc.args...), env(e))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestServe: serve answers until its context ends, then shuts down and returns nil.
func TestServe(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, err := loadConfig([]string{"-routes=" + routesFile(t, oneRoute), "-shutdown-grace=1m"},
		env(map[string]string{"SHOP_SECRET": "whsec-0123456789abcdef"}))
	is.NoErr(err)
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	is.NoErr(err)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, c, ln, slog.New(slog.DiscardHandler)) }()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/healthz", nil)
	is.NoErr(err)
	res, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	is.NoErr(res.Body.Close())
	is.Equal(res.StatusCode, http.StatusOK)

	cancel()
	is.NoErr(<-served) // a clean shutdown
}
