package ui_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/ui"
)

// serve mounts the dashboard as the service does and returns the test server's URL.
func serve(t *testing.T, fsys fs.FS) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET "+ui.Prefix, ui.Handler(fsys))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// answer is what fetch got: the status, the headers and the body (gunzipped when gzipped).
type answer struct {
	status int
	header http.Header
	body   string
}

// fetch GETs url with the given Accept-Encoding ("" for none).
func fetch(t *testing.T, url, acceptEncoding string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Set explicitly, so the transport neither adds gzip itself nor decompresses.
	req.Header.Set("Accept-Encoding", acceptEncoding)
	if acceptEncoding == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var body io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, string(b)}
}

// TestEmbeddedBuild: the committed build is embedded, its index.html is revalidated and its
// hashed assets cached for good, every file goes with a Content-Security-Policy, and the
// scripts it names are there.
func TestEmbeddedBuild(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	base := serve(t, ui.Embedded())

	a := fetch(t, base+"/ui/", "")
	is.Equal(a.status, http.StatusOK)
	is.True(strings.HasPrefix(a.header.Get("Content-Type"), "text/html"))
	is.Equal(a.header.Get("Cache-Control"), "no-cache")
	is.True(strings.Contains(a.header.Get("Content-Security-Policy"), "script-src 'self'"))
	is.Equal(a.header.Get("X-Content-Type-Options"), "nosniff")
	is.Equal(a.header.Get("X-Frame-Options"), "DENY")
	is.True(strings.Contains(a.body, `<div id="app">`)) // the dashboard's page

	assets := regexp.MustCompile(`(?:src|href)="\./(assets/[^"]+)"`).FindAllStringSubmatch(a.body, -1)
	is.True(len(assets) >= 2) // a script and a stylesheet
	for _, asset := range assets {
		a := fetch(t, base+"/ui/"+asset[1], "")
		is.Equal(a.status, http.StatusOK)                                              // every asset index.html names is embedded
		is.Equal(a.header.Get("Cache-Control"), "public, max-age=31536000, immutable") // named by content hash
		is.True(len(a.body) > 0)
	}
}

func TestGzip(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	dir := t.TempDir()
	page := "<!doctype html><title>x</title>" + strings.Repeat("<p>dashboard</p>", 200)
	is.NoErr(os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o600))
	fsys, err := ui.Dir(dir)
	is.NoErr(err)
	base := serve(t, fsys)

	a := fetch(t, base+"/ui/", "gzip")
	is.Equal(a.header.Get("Content-Encoding"), "gzip") // compressed for a browser that accepts it
	is.Equal(a.body, page)

	a = fetch(t, base+"/ui/", "")
	is.Equal(a.header.Get("Content-Encoding"), "") // plain otherwise
	is.Equal(a.body, page)
}

func TestDir(t *testing.T) {
	t.Parallel()

	t.Run("serves its files", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		dir := t.TempDir()
		is.NoErr(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>from a directory</p>"), 0o600))
		is.NoErr(os.Mkdir(filepath.Join(dir, "assets"), 0o700))
		is.NoErr(os.WriteFile(filepath.Join(dir, "assets", "app-1234.js"), []byte("console.log(1)"), 0o600))
		fsys, err := ui.Dir(dir)
		is.NoErr(err)
		base := serve(t, fsys)

		a := fetch(t, base+"/ui/", "")
		is.Equal(a.status, http.StatusOK)
		is.Equal(a.body, "<p>from a directory</p>")
		a = fetch(t, base+"/ui/assets/app-1234.js", "")
		is.Equal(a.status, http.StatusOK)
		is.True(strings.Contains(a.header.Get("Content-Type"), "javascript"))
		is.Equal(a.body, "console.log(1)")
		a = fetch(t, base+"/ui/missing.js", "")
		is.Equal(a.status, http.StatusNotFound)
	})

	t.Run("without index.html", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		_, err := ui.Dir(t.TempDir())
		is.True(err != nil)                                         // refused at start-up
		is.True(strings.Contains(err.Error(), "has no index.html")) // says what is missing
	})

	t.Run("missing directory", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		_, err := ui.Dir(filepath.Join(t.TempDir(), "nope"))
		is.True(err != nil)
	})
}
