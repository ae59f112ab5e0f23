package deployments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

const redacted = deployments.RedactedHeader

// withHeaders is a definition of one http node at url with headers, and a transform.
func withHeaders(id, url string, headers map[string]any) deployments.Definition {
	d := def(id)
	d.Nodes[0].Params = map[string]any{"url": url, "headers": headers}
	return d
}

func TestRedactHeaders(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	d := withHeaders("r", "https://api.example.com/x", map[string]any{"Authorization": "Bearer s3cret", "Accept": "text/plain"})
	d.Nodes[1].Params["headers"] = map[string]any{"not": "an http node"}

	got := deployments.RedactHeaders(d)
	is.Equal(got.Nodes[0].Params["headers"], map[string]any{"Authorization": redacted, "Accept": redacted}) // every value
	is.Equal(got.Nodes[0].Params["url"], "https://api.example.com/x")                                       // the rest as is
	is.Equal(got.Nodes[1].Params["headers"], map[string]any{"not": "an http node"})                         // only http nodes
	is.Equal(d.Nodes[0].Params["headers"].(map[string]any)["Authorization"], "Bearer s3cret")               // d untouched

	plain := def("plain")
	plain.Nodes[0].Params = map[string]any{"url": "https://api.example.com/x"}
	is.Equal(&deployments.RedactHeaders(plain).Nodes[0], &plain.Nodes[0]) // nothing to redact: no copy
}

// violation returns the only violation of err.
func violation(t *testing.T, err error) errdefs.Violation {
	t.Helper()
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 {
		t.Fatalf("want one violation, got %v", err)
	}
	return ve.Violations[0]
}

// TestRedactedHeadersKept: a definition sent back with the marker, by Deploy or Update, keeps
// the stored value of that header of that node; a marker with no stored value, or on a node
// whose url moved to another host, is refused and changes nothing.
func TestRedactedHeadersKept(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		const url = "https://api.example.com/orders"
		headers := func(d *deployments.Deployment) map[string]any {
			return d.Definition.Nodes[0].Params["headers"].(map[string]any)
		}

		// A new workflow has nothing to keep.
		_, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: withHeaders("keep", url, map[string]any{"Authorization": redacted})})
		v := violation(t, err)
		is.Equal(v.Field, "definition.nodes[0].params.headers")
		is.Equal(v.Rule, "http.header_redacted")

		_, _, err = svc.Deploy(ctx, &deployments.DeployParams{Definition: withHeaders("keep", url, map[string]any{"Authorization": "Bearer s3cret", "X-Env": "prod"})})
		is.NoErr(err)

		// Deploy: the marker keeps the value; the other header changes.
		d, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: withHeaders("keep", url+"?v=2", map[string]any{"Authorization": redacted, "X-Env": "staging"})})
		is.NoErr(err)
		is.Equal(headers(d), map[string]any{"Authorization": "Bearer s3cret", "X-Env": "staging"})
		is.Equal(d.Revision, int32(2))

		// Update (mask definition): the same.
		next := withHeaders("keep", url, map[string]any{"Authorization": redacted, "X-Env": redacted})
		d, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathDefinition}, Definition: &next})
		is.NoErr(err)
		is.Equal(headers(d), map[string]any{"Authorization": "Bearer s3cret", "X-Env": "staging"})
		is.Equal(next.Nodes[0].Params["headers"].(map[string]any)["Authorization"], redacted) // the caller's definition untouched
		got, err := svc.Get(ctx, d.ID)
		is.NoErr(err)
		is.Equal(headers(got), map[string]any{"Authorization": "Bearer s3cret", "X-Env": "staging"}) // stored
		is.Equal(got.Revision, int32(3))

		// Refused, nothing changes: a header never stored; another node id; another host.
		refused := []struct {
			name string
			def  deployments.Definition
			rule string
		}{
			{"unknown header", withHeaders("keep", url, map[string]any{"X-Api-Key": redacted}), "http.header_redacted"},
			{"other node", func() deployments.Definition {
				d := withHeaders("keep", url, map[string]any{"Authorization": redacted})
				d.Nodes[0].ID = "fetch2"
				d.Nodes[1].DependsOn = []string{"fetch2"}
				return d
			}(), "http.header_redacted"},
			{"other host", withHeaders("keep", "https://collector.example.net/orders", map[string]any{"Authorization": redacted}), "http.header_redacted_host"},
			{"other scheme", withHeaders("keep", "http://api.example.com/orders", map[string]any{"Authorization": redacted}), "http.header_redacted_host"},
		}
		for _, r := range refused {
			_, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: r.def})
			is.Equal(violation(t, err).Rule, r.rule) // Deploy refuses
			_, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathDefinition}, Definition: &r.def})
			is.Equal(violation(t, err).Rule, r.rule) // Update refuses
			got, err := svc.Get(ctx, d.ID)
			is.NoErr(err)
			is.Equal(got.Revision, int32(3)) // no new revision
			is.Equal(headers(got)["Authorization"], "Bearer s3cret")
			t.Logf("%-14s refused: %s", r.name, r.rule)
		}
	})
}
