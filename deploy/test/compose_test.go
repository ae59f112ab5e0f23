package deploytest

import (
	"context"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/matryer/is"
)

// composeServices are the services compose.yaml runs, and the fewest replicas of each role.
var (
	composeServices = []string{"postgres", "redis", "migrate", "api", "scheduler", "worker", "engine"}
	composeReplicas = map[string]int{"api": 2, "scheduler": 2, "worker": 2, "engine": 1}
)

// loadCompose loads a compose file with compose-go as `docker compose` does: the Compose
// Specification's schema (an unknown key is an error), interpolation (from an empty
// environment: the file must not depend on the caller's), normalisation and consistency checks.
func loadCompose(file string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(filepath.Dir(file)))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// composeService is one service built from the Dockerfile, its environment and its command
// parsed as the binary would.
type composeService struct {
	name  string
	s     types.ServiceConfig
	where string
	env   map[string]string
	inv   invocation
	ok    bool
}

// checkCompose checks a compose project against the binary and the image.
func checkCompose(proj *types.Project, img image, root string) []string {
	var p problems
	for _, name := range composeServices {
		if _, ok := proj.Services[name]; !ok {
			p.add("service %s is missing", name)
		}
	}
	absRoot, _ := filepath.Abs(root)
	var built []*composeService
	for _, name := range slices.Sorted(maps.Keys(proj.Services)) {
		s := proj.Services[name]
		if s.Build == nil {
			continue // postgres, redis: images of their own
		}
		cs := &composeService{name: name, s: s, where: "service " + name, env: maps.Clone(img.env)}
		built = append(built, cs)
		if filepath.Clean(s.Build.Context) != absRoot || (s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile") {
			p.add("%s: builds %s/%s, not the repository's Dockerfile", cs.where, s.Build.Context, s.Build.Dockerfile)
		}
		for k, v := range s.Environment {
			if v == nil {
				p.add("%s: %s comes from the caller's environment", cs.where, k)
				continue
			}
			cs.env[k] = *v
		}
		if names := unknownSettings(cs.env); len(names) > 0 {
			p.add("%s: sets %v, which the binary does not read (internal/config)", cs.where, names)
		}
		if len(s.Entrypoint) > 0 && !slices.Equal(s.Entrypoint, img.entrypoint) {
			p.add("%s: entrypoint %v replaces the image's %v", cs.where, s.Entrypoint, img.entrypoint)
		}
		inv, err := parseInvocation(s.Command, img.cmd, cs.env)
		if err != nil {
			p.add("%s: %v", cs.where, err)
			continue
		}
		cs.inv, cs.ok = inv, true
	}

	replicas := map[string]int{}
	var migrates []*composeService
	for _, cs := range built {
		if !cs.ok {
			continue
		}
		if cs.inv.command == "migrate" {
			migrates = append(migrates, cs)
			checkComposeDependency(proj, cs, cs.inv.cfg.DatabaseURL, types.ServiceConditionHealthy, &p)
			if r := cs.s.Restart; r != "" && r != types.RestartPolicyNo {
				p.add("%s: restart %s: a one-shot must not run again", cs.where, r)
			}
			continue
		}
		replicas[string(cs.inv.cfg.Role)] += cs.s.GetScale()
		checkComposeServing(proj, cs, img, &p)
	}
	for role, n := range composeReplicas {
		if replicas[role] < n {
			p.add("role %s runs %d replicas, want %d", role, replicas[role], n)
		}
	}
	if len(migrates) != 1 {
		p.add("%d services run migrate, want 1", len(migrates))
	}

	// The roles that keep executions start after the migration, on the database it migrated.
	for _, cs := range built {
		if !cs.ok || cs.inv.command != "serve" || cs.inv.cfg.Role == "engine" {
			continue
		}
		for _, mg := range migrates {
			if cs.inv.cfg.DatabaseURL != mg.inv.cfg.DatabaseURL {
				p.add("%s: WFR_DATABASE_URL is not the database %s migrates", cs.where, mg.name)
			}
			if d, ok := cs.s.DependsOn[mg.name]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
				p.add("%s: does not depend on %s with condition %s", cs.where, mg.name, types.ServiceConditionCompletedSuccessfully)
			}
		}
	}
	// A dependency on a healthy service needs that service's healthcheck.
	for _, name := range slices.Sorted(maps.Keys(proj.Services)) {
		for dep, d := range proj.Services[name].DependsOn {
			if hc := proj.Services[dep].HealthCheck; d.Condition == types.ServiceConditionHealthy && (hc == nil || hc.Disable || len(hc.Test) == 0) {
				p.add("service %s: waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
	return p
}

// checkComposeDependency: the service that rawURL's host names exists and cs depends on it with
// condition.
func checkComposeDependency(proj *types.Project, cs *composeService, rawURL, condition string, p *problems) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		p.add("%s: %s names no host", cs.where, redact(rawURL))
		return ""
	}
	host := u.Hostname()
	if _, ok := proj.Services[host]; !ok {
		p.add("%s: %s: no service %s", cs.where, redact(rawURL), host)
		return ""
	}
	if d, ok := cs.s.DependsOn[host]; !ok || d.Condition != condition {
		p.add("%s: does not depend on %s with condition %s", cs.where, host, condition)
	}
	return host
}

// redact drops a URL's password.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "a URL"
	}
	return u.Redacted()
}

// healthURL finds the URL a healthcheck asks.
var healthURL = regexp.MustCompile(`https?://[^\s"']+`)

// checkComposeServing: no migration at start-up; a healthcheck that asks the role's readiness
// on WFR_ADDR with a program the image has; a stop grace above the drain; dependencies on the
// stores and the engine the role uses, healthy.
func checkComposeServing(proj *types.Project, cs *composeService, img image, p *problems) {
	cfg := cs.inv.cfg
	if cfg.MigrateOnStart {
		p.add("%s: WFR_MIGRATE_ON_START is not false: the replicas would race to migrate; the migrate service does", cs.where)
	}
	port, err := addrPort(cfg)
	if err != nil {
		p.add("%s: %v", cs.where, err)
		return
	}
	hc := cs.s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) < 2 {
		p.add("%s: no healthcheck", cs.where)
	} else {
		if hc.Test[0] != "CMD" {
			p.add("%s: healthcheck %v: want the exec form [CMD, ...] (the image has no shell)", cs.where, hc.Test)
		}
		prog := hc.Test[1]
		base := ""
		if v := cs.s.Build.Args["RUNTIME_BASE"]; v != nil {
			base = *v
		}
		switch {
		case strings.HasPrefix(prog, "/busybox/") && !strings.Contains(base, ":debug"):
			p.add("%s: healthcheck runs %s, but the image's base %q has no busybox (build arg RUNTIME_BASE=...:debug-nonroot)", cs.where, prog, base)
		case !strings.HasPrefix(prog, "/busybox/") && (len(img.entrypoint) == 0 || prog != img.entrypoint[0]):
			p.add("%s: healthcheck runs %s, which the image does not have", cs.where, prog)
		}
		raw := healthURL.FindString(strings.Join(hc.Test[1:], " "))
		u, err := url.Parse(raw)
		switch {
		case raw == "" || err != nil:
			p.add("%s: healthcheck %v asks no URL", cs.where, hc.Test)
		case u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost":
			p.add("%s: healthcheck asks %s, not the container's own server", cs.where, raw)
		case u.Port() != strconv.Itoa(port):
			p.add("%s: healthcheck asks port %s, not WFR_ADDR's port %d", cs.where, u.Port(), port)
		default:
			if msg := checkProbePath(readiness, u.Path); msg != "" {
				p.add("%s: healthcheck: %s", cs.where, msg)
			}
		}
	}
	stop := 10 * time.Second // Compose's default
	if g := cs.s.StopGracePeriod; g != nil {
		stop = time.Duration(*g)
	}
	if stop <= cfg.ShutdownGrace {
		p.add("%s: stop_grace_period %s is not above WFR_SHUTDOWN_GRACE %s: Compose kills it while it drains", cs.where, stop, cfg.ShutdownGrace)
	}
	if cfg.Role != "engine" {
		checkComposeDependency(proj, cs, cfg.DatabaseURL, types.ServiceConditionHealthy, p)
		checkComposeDependency(proj, cs, cfg.RedisURL, types.ServiceConditionHealthy, p)
	}
	if cfg.EngineURL != "" {
		host := checkComposeDependency(proj, cs, cfg.EngineURL, types.ServiceConditionHealthy, p)
		if env, ok := proj.Services[host]; ok {
			engine := &composeService{env: maps.Clone(img.env)}
			for k, v := range env.Environment {
				if v != nil {
					engine.env[k] = *v
				}
			}
			inv, err := parseInvocation(env.Command, img.cmd, engine.env)
			u, _ := url.Parse(cfg.EngineURL)
			if err == nil {
				if inv.cfg.Role != "engine" {
					p.add("%s: WFR_ENGINE_URL names service %s, which runs role %s", cs.where, host, inv.cfg.Role)
				}
				if ep, _ := addrPort(inv.cfg); u.Port() != strconv.Itoa(ep) {
					p.add("%s: WFR_ENGINE_URL port %s is not %s's WFR_ADDR port %d", cs.where, u.Port(), host, ep)
				}
			}
		}
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	img := repoImage(t)
	proj, err := loadCompose(filepath.Join(repoRoot, "compose.yaml"))
	is.NoErr(err) // compose.yaml loads
	for _, p := range checkCompose(proj, img, repoRoot) {
		t.Error(p)
	}
	is.Equal(proj.Name, "workflow-runtime")
	is.Equal(slices.Sorted(maps.Keys(proj.Services)), slices.Sorted(slices.Values(composeServices)))
}

// TestComposeBroken proves that the checks fail: testdata/broken-compose.yaml has one fault per
// check.
func TestComposeBroken(t *testing.T) {
	t.Parallel()
	img := repoImage(t)
	proj, err := loadCompose("testdata/broken-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	expectProblems(t, checkCompose(proj, img, repoRoot),
		"service scheduler is missing",
		"role api runs 1 replicas, want 2",
		"service worker: sets [WFR_WORKERS]",
		"service engine: serve --role=gateway",
		"service api: WFR_MIGRATE_ON_START is not false",
		"service worker: does not depend on engine with condition service_healthy",
		"service api: healthcheck: readinessProbe path /livez answers 200 while the process is not ready, 200 while a dependency is down",
		"service worker: stop_grace_period 10s is not above WFR_SHUTDOWN_GRACE 30s",
		"service api: does not depend on migrate with condition service_completed_successfully",
		"service worker: healthcheck runs /busybox/wget, but the image's base",
		"service migrate: WFR_DATABASE_URL comes from the caller's environment",
	)
	// An unknown key fails the load itself (the Compose Specification's schema).
	_, err = loadCompose("testdata/broken-compose-schema.yaml")
	if err == nil || !strings.Contains(err.Error(), "healthchek") {
		t.Errorf("loading a file with an unknown key: %v", err)
	}
}
