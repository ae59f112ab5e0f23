package app

import (
	"cmp"
	"fmt"
	"net/http"

	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/ui"
)

// dashboard mounts the browser dashboard at /ui/ (WFR_UI=on): the embedded build, or
// WFR_UI_DIR's; and sends a browser that opens the server's root there. Both are outside
// bearer-token authentication: the files hold no secret, and the dashboard's calls carry the
// token its settings hold.
func (a *App) dashboard() ([]httpserver.Option, error) {
	fsys := ui.Embedded()
	if a.cfg.UIDir != "" {
		var err error
		if fsys, err = ui.Dir(a.cfg.UIDir); err != nil {
			return nil, fmt.Errorf("WFR_UI_DIR: %w", err)
		}
	}
	a.logger.Info("dashboard served", "path", ui.Prefix, "from", cmp.Or(a.cfg.UIDir, "embedded build"))
	return []httpserver.Option{
		httpserver.WithPublicRoute("GET "+ui.Prefix, ui.Handler(fsys)),
		httpserver.WithPublicRoute("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound)),
	}, nil
}
