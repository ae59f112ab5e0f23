package auth_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/auth"
)

func TestParse(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	set, err := auth.Parse([]byte(`
# comment line
gateway trigger 0123456789abcdef   # trailing comment
ci      deploy,read fedcba9876543210
`))
	is.NoErr(err)
	is.Equal(len(set), 2)

	for name, bad := range map[string]string{
		"two fields":    "gateway trigger\n",
		"four fields":   "gateway trigger 0123456789abcdef extra\n",
		"short token":   "gateway trigger short\n",
		"unknown scope": "gateway launch 0123456789abcdef\n",
		"empty scope":   "gateway read, 0123456789abcdef\n",
		"name twice":    "a read 0123456789abcdef\na read fedcba9876543210\n",
		"token twice":   "a read 0123456789abcdef\nb trigger 0123456789abcdef\n",
		"no tokens":     "# nothing\n\n",
	} {
		_, err := auth.Parse([]byte(bad))
		if err == nil {
			t.Errorf("%s: parsed %q", name, bad)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "tokens")
	is.NoErr(os.WriteFile(path, []byte("ci deploy,read 0123456789abcdef\nops admin fedcba9876543210\n"), 0o600))
	tokens, err := auth.Load(path)
	is.NoErr(err)

	id, err := tokens.Authenticate("Bearer 0123456789abcdef")
	is.NoErr(err)
	is.Equal(id.Name, "ci")
	is.True(id.Has(auth.ScopeDeploy) && id.Has(auth.ScopeRead)) // the scopes it lists
	is.True(!id.Has(auth.ScopeTrigger) && !id.Has(auth.ScopeAdmin))
	id, err = tokens.Authenticate("bearer   fedcba9876543210 ")
	is.NoErr(err)
	is.True(id.Has(auth.ScopeTrigger) && id.Has(auth.ScopeEngine)) // admin has every scope

	for _, h := range []string{"", "Bearer", "Bearer ", "Basic 0123456789abcdef", "0123456789abcdef"} {
		_, err := tokens.Authenticate(h)
		is.Equal(err, auth.ErrNoToken) // no bearer token
	}
	_, err = tokens.Authenticate("Bearer 0123456789abcdeX")
	is.Equal(err, auth.ErrUnknownToken)

	_, err = auth.Load(filepath.Join(t.TempDir(), "missing"))
	is.True(err != nil) // a missing file is an error at start-up
}

func TestCheckHost(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	h := auth.CheckHost(append(auth.LoopbackHosts, "WFR.example"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	for host, want := range map[string]int{
		"127.0.0.1:8080":   http.StatusOK,
		"localhost":        http.StatusOK,
		"[::1]:8080":       http.StatusOK,
		"wfr.example:443":  http.StatusOK,
		"evil.example":     http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io": http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/livez", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		is.Equal(rec.Code, want) // host
	}
}
