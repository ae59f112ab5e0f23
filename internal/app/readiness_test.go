package app_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// TestReadinessPerRole: with Redis down, the api role stays ready (it records triggers, and
// their executions reach the queue when Redis answers), while the roles that need Redis to do
// their job (worker: the queue; scheduler: the fire locks) are not; all are ready again when
// it answers.
func TestReadinessPerRole(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := testenv.StartRedis(t)
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "wfr.db")
	addrs := map[config.Role]string{}
	for _, role := range []config.Role{config.RoleAPI, config.RoleWorker, config.RoleScheduler} {
		cfg := config.Default()
		cfg.Role = role
		cfg.DatabaseURL = dbURL
		cfg.RedisURL = srv.URL()
		addrs[role] = startConfig(t, cfg).Addr()
	}
	readyz := func(role config.Role) int { return statusOf(t, "http://"+addrs[role]+"/readyz") }
	for role := range addrs {
		is.Equal(readyz(role), 200) // everything answers
	}

	srv.Stop()
	is.Equal(readyz(config.RoleAPI), 200)                                 // records triggers without Redis
	is.Equal(readyz(config.RoleWorker), 503)                              // needs the queue
	is.Equal(readyz(config.RoleScheduler), 503)                           // needs the fire locks
	is.Equal(statusOf(t, "http://"+addrs[config.RoleAPI]+"/health"), 503) // /health reports Redis down

	srv.Start()
	// The Redis client dials again about once a second after failed dials: only asking
	// /readyz tells when it has.
	testenv.Poll(t, 10*time.Second, func() error {
		for role := range addrs {
			if code := readyz(role); code != 200 {
				return fmt.Errorf("%s answers /readyz %d after Redis came back", role, code)
			}
		}
		return nil
	})
}
