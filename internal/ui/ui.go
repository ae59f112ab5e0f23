// Package ui serves the browser dashboard (web-examples/dashboard) at /ui/ when WFR_UI=on: the
// build in dist/, which is committed like generated code (web-examples/dashboard builds into it;
// .ci/run checks it is up to date) and embedded in the binary, so `go build` needs nothing but
// Go; or, with WFR_UI_DIR, the files of a directory (a dashboard built elsewhere, or one being
// worked on).
//
// The dashboard calls the API from the same origin, so it needs no CORS. Its files are public:
// with authentication on, the page asks for a token and sends it on every call; no secret is in
// the files. Asset names carry a content hash and are cached for a year; index.html is revalidated
// on every load, so a new binary's dashboard is picked up at once.
package ui

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

//go:embed all:dist
var dist embed.FS

// contentSecurityPolicy lets the dashboard load only its own scripts and styles and call any
// http(s) service (the settings panel may point it at another one), and keeps it out of frames.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Embedded returns the dashboard build compiled into the binary.
func Embedded() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(fmt.Sprintf("ui: embedded dist: %v", err)) // cannot happen: the directory is embedded
	}
	return sub
}

// Dir returns the files of directory dir, which must hold an index.html.
func Dir(dir string) (fs.FS, error) {
	fsys := os.DirFS(dir)
	if _, err := fs.Stat(fsys, "index.html"); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no index.html: build the dashboard into it (cd web-examples/dashboard && npm run build)", dir)
		}
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return fsys, nil
}

// Handler serves fsys under Prefix: GET and HEAD only, gzip when the client accepts it, assets
// cached as immutable, everything else revalidated.
func Handler(fsys fs.FS) http.Handler {
	files := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(fsys))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := w.Header()
		if strings.HasPrefix(r.URL.Path, Prefix+"assets/") {
			header.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			header.Set("Cache-Control", "no-cache")
		}
		header.Set("Content-Security-Policy", contentSecurityPolicy)
		header.Set("X-Content-Type-Options", "nosniff")
		header.Set("X-Frame-Options", "DENY")
		header.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
	return gzhttp.GzipHandler(h)
}
