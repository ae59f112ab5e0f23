package app_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/webhook/signature"
)

// TestWebhooksOutsideTokenAuth: with WFR_WEBHOOKS=true a signed delivery to /hooks needs no
// bearer token even when every RPC does; without it /hooks is not served.
func TestWebhooksOutsideTokenAuth(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tokens := writeTokens(t, "")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	const secret = "app-test-secret-0123456789"
	post := func(base string) int {
		t.Helper()
		body, id, ts := `{"n":1}`, "evt_1", time.Now().Unix()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/hooks/app/hook", strings.NewReader(body))
		is.NoErr(err)
		req.Header.Set(signature.HeaderID, id)
		req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(signature.HeaderSignature, signature.Sign([]byte(secret), id, ts, []byte(body)))
		res, err := http.DefaultClient.Do(req)
		is.NoErr(err)
		_ = res.Body.Close()
		return res.StatusCode
	}
	deploy := func(base string) {
		t.Helper()
		_, err := authedClient(base, scopeTokens[auth.ScopeDeploy]).DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{
			Definition: &v1.WorkflowDefinition{Id: "app-hook", Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
			Triggers: []*v1.Trigger{{Id: "hook", Kind: &v1.Trigger_Webhook{
				Webhook: &v1.WebhookTrigger{Path: "app/hook", Secret: secret},
			}}},
		})
		is.NoErr(err)
	}

	on := startWithAuth(t, config.RoleAll, tokens, func(c *config.Config) {
		c.Webhooks = true
		c.WebhookSecretKey = key
	})
	deploy("http://" + on.Addr())
	is.Equal(post("http://"+on.Addr()), http.StatusAccepted) // signed, no token

	off := startWithAuth(t, config.RoleAll, tokens, func(c *config.Config) { c.WebhookSecretKey = key })
	deploy("http://" + off.Addr())
	is.Equal(post("http://"+off.Addr()), http.StatusNotFound) // not served without WFR_WEBHOOKS
}
