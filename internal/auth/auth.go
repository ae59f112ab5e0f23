// Package auth decides who may call what: bearer tokens with scopes, read from a file, checked
// on every RPC by one Connect interceptor against one table of the scope each procedure needs,
// and on the plain HTTP endpoints (health, metrics, the profiler) by a middleware.
//
// # Tokens
//
// WFR_AUTH_TOKENS_FILE names a file of one token per line, `NAME SCOPES TOKEN`:
//
//	# who        scopes            token (at least 16 characters)
//	gateway      trigger           3f6c9a0e2d4b48b1a7c5e9f0d2b4a6c8
//	dashboard    read              9a8b7c6d5e4f30211f2e3d4c5b6a7988
//	ci           deploy,read       0f1e2d3c4b5a69788796a5b4c3d2e1f0
//	ops          admin             c0ffee00c0ffee00c0ffee00c0ffee00
//	worker       engine            a1b2c3d4e5f60718293a4b5c6d7e8f90
//
// Blank lines and text from a `#` on are ignored. Names and tokens are unique. Only the
// SHA-256 of each token is kept in memory. The file is read at start-up and again on SIGHUP
// (Tokens.Reload): a file that does not parse leaves the previous set in force.
//
// # Scopes
//
// read (dashboards: every Get, List and Watch), trigger (gateways: TriggerWorkflow), deploy
// (Deploy, Update, Delete, Backfill, Cancel), engine (a worker calling a remote engine), admin (all of
// them, and the profiler). A token has the scopes it lists, and admin has every scope; a
// deploy token that should also read says `deploy,read`. The scope of every procedure is
// declared in one table (procedureScopes); a procedure missing from it needs admin.
//
// # Answers
//
// No token, or a token nobody issued: unauthenticated. A known token without the scope:
// permission_denied. Neither says which tokens exist. The gRPC health service is always open
// (probes); /health, /livez, /readyz and /metrics are open unless configured otherwise, in
// which case they need read.
package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
)

// Scope is a permission a token carries.
type Scope string

// The scopes.
const (
	// ScopeRead reads deployments, executions, the fire ledger and the monitoring RPCs.
	ScopeRead Scope = "read"
	// ScopeTrigger triggers executions (TriggerWorkflow): what a gateway needs.
	ScopeTrigger Scope = "trigger"
	// ScopeDeploy changes deployments and their executions: deploy, update, delete, backfill,
	// cancel.
	ScopeDeploy Scope = "deploy"
	// ScopeEngine calls a remote engine's WorkflowEngineService: what a worker needs.
	ScopeEngine Scope = "engine"
	// ScopeAdmin is every scope, and the profiler.
	ScopeAdmin Scope = "admin"
	// scopePublic marks a procedure that needs no token (the gRPC health service).
	scopePublic Scope = ""
)

// Scopes are the scopes a token file may name.
var Scopes = []Scope{ScopeRead, ScopeTrigger, ScopeDeploy, ScopeEngine, ScopeAdmin}

// MinTokenLength is the shortest token a file may hold: a guessable token is no token.
const MinTokenLength = 16

// Identity is who a token belongs to.
type Identity struct {
	// Name is the token's NAME column: for logs, never secret.
	Name string
	// Scopes are the scopes it lists.
	Scopes []Scope
}

// Has reports whether the identity may act with scope s: it lists s, or admin.
func (id *Identity) Has(s Scope) bool {
	return s == scopePublic || slices.Contains(id.Scopes, s) || slices.Contains(id.Scopes, ScopeAdmin)
}

// Errors of Tokens.Authenticate.
var (
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("no bearer token: send Authorization: Bearer <token>")
	// ErrUnknownToken: the token is not one the server knows.
	ErrUnknownToken = errors.New("the bearer token is not valid")
)

// Tokens is the set of known tokens, replaced whole by Reload. Safe for concurrent use.
type Tokens struct {
	path string
	set  atomic.Pointer[map[[sha256.Size]byte]*Identity]
}

// Load reads the token file at path.
func Load(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the file again and replaces the set; on error the set in force stays.
func (t *Tokens) Reload() error {
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("read tokens file: %w", err)
	}
	set, err := Parse(data)
	if err != nil {
		return fmt.Errorf("tokens file %s: %w", t.path, err)
	}
	t.set.Store(&set)
	return nil
}

// Len is the number of tokens in force.
func (t *Tokens) Len() int { return len(*t.set.Load()) }

// Authenticate finds the identity of an Authorization header value ("Bearer <token>").
func (t *Tokens) Authenticate(authorization string) (*Identity, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, ErrNoToken
	}
	id, ok := (*t.set.Load())[sha256.Sum256([]byte(strings.TrimSpace(token)))]
	if !ok {
		return nil, ErrUnknownToken
	}
	return id, nil
}

// Parse reads a token file's contents (see the package doc) into a set keyed by the tokens'
// SHA-256. Errors name the line.
func Parse(data []byte) (map[[sha256.Size]byte]*Identity, error) {
	set := map[[sha256.Size]byte]*Identity{}
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: want NAME SCOPES TOKEN, found %d fields", n, len(fields))
		}
		name, token := fields[0], fields[2]
		if names[name] {
			return nil, fmt.Errorf("line %d: name %q is used twice", n, name)
		}
		if len(token) < MinTokenLength {
			return nil, fmt.Errorf("line %d: the token of %q is shorter than %d characters", n, name, MinTokenLength)
		}
		var scopes []Scope
		for s := range strings.SplitSeq(fields[1], ",") {
			if !slices.Contains(Scopes, Scope(s)) {
				return nil, fmt.Errorf("line %d: unknown scope %q (want %s)", n, s, joinScopes(Scopes))
			}
			scopes = append(scopes, Scope(s))
		}
		sum := sha256.Sum256([]byte(token))
		if _, dup := set[sum]; dup {
			return nil, fmt.Errorf("line %d: the token of %q is used by another name", n, name)
		}
		names[name] = true
		set[sum] = &Identity{Name: name, Scopes: scopes}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(set) == 0 {
		return nil, errors.New("no tokens")
	}
	return set, nil
}

func joinScopes(ss []Scope) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the request was authenticated as (nil when auth is off).
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}
