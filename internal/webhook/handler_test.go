package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/webhook"
	"github.com/workflow-runtime/workflow-runtime/internal/webhook/signature"
)

const (
	secret = "whsec-test-0123456789abcdef" // what the deployment is given
	path   = "shop/orders"
)

// testBundle: a migrated store, the API handler whose deployment service seals secrets, and
// the /hooks handler on a listener, its clock fixed at now.
type testBundle struct {
	db    *store.DB
	api   *api.Handler
	queue *queue.LocalQueue // where the executions' messages go
	url   string
	now   time.Time
}

var backends = []struct {
	name string
	open func(testing.TB) *store.DB
}{
	{"sqlite", storetest.OpenSQLite},
	{"postgres", storetest.OpenPostgres}, // skipped without WFR_TEST_DATABASE_URL
}

func setup(t *testing.T, open func(testing.TB) *store.DB) *testBundle {
	t.Helper()
	return setupLimited(t, open, 0)
}

// setupLimited is setup with the execution service's MaxTriggerDataBytes (0: its default).
func setupLimited(t *testing.T, open func(testing.TB) *store.DB, maxTriggerData int) *testBundle {
	t.Helper()
	is := is.New(t)
	db := open(t)
	logger := slog.New(slog.DiscardHandler)
	box, err := webhook.NewBox(bytes.Repeat([]byte{7}, webhook.KeySize))
	is.NoErr(err)
	q := queue.NewLocalQueue(queue.LocalConfig{})
	executions := execution.NewService(db, q, notify.NewLocal(), execution.ServiceConfig{Logger: logger, MaxTriggerDataBytes: maxTriggerData})
	h := api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{SealSecret: box.Seal}),
		Executions:  executions,
		Logger:      logger,
	})
	b := &testBundle{db: db, api: h, queue: q, now: time.Unix(1_800_000_000, 0)}
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, webhook.NewHandler(db, executions, webhook.Config{
		Box: box, MaxBodyBytes: 1024, Logger: logger, Now: func() time.Time { return b.now },
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// deploy deploys workflow id with one webhook trigger at p (with secret s when not empty).
func (b *testBundle) deploy(t *testing.T, id, p, s string) error {
	t.Helper()
	params, err := json.Marshal(map[string]any{"value": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	var node v1.Node
	if err := protojson.Unmarshal(fmt.Appendf(nil, `{"id":"a","type":"noop","params":%s}`, params), &node); err != nil {
		t.Fatal(err)
	}
	_, err = b.api.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: id, Nodes: []*v1.Node{&node}},
		Triggers: []*v1.Trigger{{Id: "hook", Kind: &v1.Trigger_Webhook{
			Webhook: &v1.WebhookTrigger{Path: p, Secret: s},
		}}},
	})
	return err
}

// deliver posts body to /hooks/p with the three headers; sig "" signs with secret.
func (b *testBundle) deliver(t *testing.T, p, id string, ts int64, body, sig string) (int, map[string]string) {
	t.Helper()
	return b.deliverWith(t, nil, p, id, ts, body, sig)
}

// deliverWith is deliver with more request headers.
func (b *testBundle) deliverWith(t *testing.T, header http.Header, p, id string, ts int64, body, sig string) (int, map[string]string) {
	t.Helper()
	if sig == "" {
		sig = signature.Sign([]byte(secret), id, ts, []byte(body))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/hooks/"+p, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set(signature.HeaderID, id)
	req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(signature.HeaderSignature, sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]string{}
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// executions counts the workflow's executions in the database.
func (b *testBundle) executions(t *testing.T, workflowID string) int {
	t.Helper()
	n, err := b.db.Bun().NewSelect().Table("executions").Where("workflow_id = ?", workflowID).Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestDeliveries is the acceptance: a wrong signature, a stale timestamp or a replayed delivery
// id is refused and triggers nothing; a right one triggers once.
func TestDeliveries(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, be.open)
			is.NoErr(b.deploy(t, "orders", path, secret))
			ts := b.now.Unix()
			body := `{"order":42}`

			status, out := b.deliver(t, path, "evt_1", ts, body, "")
			is.Equal(status, http.StatusAccepted) // right signature
			is.True(out["executionId"] != "")     // the execution's id
			first := out["executionId"]
			is.Equal(b.executions(t, "orders"), 1)
			e, err := b.api.GetExecution(t.Context(), &v1.GetExecutionRequest{ExecutionId: first})
			is.NoErr(err)
			is.Equal(e.GetExecution().GetTriggerData(), body)                                // body is trigger_data
			is.Equal(e.GetExecution().GetIdempotencyKey(), "evt_1")                          // delivery id is the key
			is.Equal(e.GetExecution().GetTriggerType(), v1.TriggerType_TRIGGER_TYPE_WEBHOOK) // as TriggerWorkflow by path

			refused := []struct {
				name   string
				id     string
				ts     int64
				body   string
				sig    string
				status int
			}{
				{"replayed delivery id", "evt_1", ts, body, "", http.StatusConflict},
				{"wrong secret", "evt_2", ts, body, signature.Sign([]byte("another-secret-0123456"), "evt_2", ts, []byte(body)), http.StatusUnauthorized},
				{"body changed", "evt_3", ts, `{"order":43}`, signature.Sign([]byte(secret), "evt_3", ts, []byte(body)), http.StatusUnauthorized},
				{"id changed on a replay", "evt_4", ts, body, signature.Sign([]byte(secret), "evt_1", ts, []byte(body)), http.StatusUnauthorized},
				{"no signature", "evt_5", ts, body, "v0=none", http.StatusUnauthorized},
				{"stale timestamp", "evt_6", ts - 301, body, "", http.StatusUnauthorized},
				{"future timestamp", "evt_7", ts + 301, body, "", http.StatusUnauthorized},
				{"no delivery id", "", ts, body, "", http.StatusBadRequest},
				{"body not JSON", "evt_8", ts, "order=42", "", http.StatusBadRequest},
				{"body too large", "evt_9", ts, `{"x":"` + strings.Repeat("a", 1100) + `"}`, "", http.StatusRequestEntityTooLarge},
			}
			for _, r := range refused {
				status, out := b.deliver(t, path, r.id, r.ts, r.body, r.sig)
				is.Equal(status, r.status) // refused with the right status
				if r.status == http.StatusConflict {
					is.Equal(out["executionId"], first) // the replay names the first execution
				}
				is.Equal(b.executions(t, "orders"), 1) // nothing more triggered
				t.Logf("%-24s -> %d, executions still 1", r.name, status)
			}

			status, _ = b.deliver(t, "no/such/path", "evt_10", ts, body, "")
			is.Equal(status, http.StatusNotFound) // unknown path

			// A second, signed delivery triggers a second execution.
			status, out = b.deliver(t, path, "evt_11", ts-299, body, "")
			is.Equal(status, http.StatusAccepted)
			is.True(out["executionId"] != first)
			is.Equal(b.executions(t, "orders"), 2)
		})
	}
}

// TestTraceparent: the caller's traceparent header goes with the execution's queue message, so
// the worker's span continues the caller's trace; a delivery without one carries none.
func TestTraceparent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, storetest.OpenSQLite)
	is.NoErr(b.deploy(t, "orders", path, secret))
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ts := b.now.Unix()

	status, out := b.deliverWith(t, http.Header{"Traceparent": {traceparent}}, path, "evt_1", ts, `{}`, "")
	is.Equal(status, http.StatusAccepted)
	traced := out["executionId"]
	status, out = b.deliver(t, path, "evt_2", ts, `{}`, "")
	is.Equal(status, http.StatusAccepted)
	untraced := out["executionId"]

	got := map[string]string{}
	for len(got) < 2 { // the outbox enqueues in the background
		ds, err := b.queue.Receive(t.Context(), "t", 10, 5*time.Second)
		is.NoErr(err)
		is.True(len(ds) > 0) // enqueued within 5s
		for _, d := range ds {
			got[d.ExecutionID] = d.Traceparent
		}
	}
	is.Equal(got, map[string]string{traced: traceparent, untraced: ""}) // the header, or none
}

// TestNoSecret: a webhook trigger without a secret cannot be called at /hooks.
// TestTriggerDataLimit: a signed body over WFR_MAX_TRIGGER_DATA_BYTES (but under the handler's
// read limit) is refused with 413 and triggers nothing; one of exactly the limit is accepted.
func TestTriggerDataLimit(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			const limit = 100
			b := setupLimited(t, be.open, limit)
			is.NoErr(b.deploy(t, "orders", path, secret))
			ts := b.now.Unix()
			sized := func(n int) string { return `{"x":"` + strings.Repeat("a", n-len(`{"x":""}`)) + `"}` }

			status, out := b.deliver(t, path, "evt_1", ts, sized(limit+1), "")
			is.Equal(status, http.StatusRequestEntityTooLarge)                       // one byte over
			is.True(strings.Contains(out["error"], "limits.max_trigger_data_bytes")) // the rule is named
			is.Equal(b.executions(t, "orders"), 0)                                   // nothing stored

			status, _ = b.deliver(t, path, "evt_2", ts, sized(limit), "")
			is.Equal(status, http.StatusAccepted) // exactly the limit
			is.Equal(b.executions(t, "orders"), 1)
			t.Logf("limit %d: %d bytes -> 413, %d bytes -> 202", limit, limit+1, limit)
		})
	}
}

func TestNoSecret(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, storetest.OpenSQLite)
	is.NoErr(b.deploy(t, "open", "open/hook", ""))
	status, _ := b.deliver(t, "open/hook", "evt_1", b.now.Unix(), `{}`, "")
	is.Equal(status, http.StatusForbidden)
	is.Equal(b.executions(t, "open"), 0)
}

// TestSecretNeverReturned: the secret is in no answer (JSON and binary) and not in the
// database in clear; re-sending the path without a secret keeps it.
func TestSecretNeverReturned(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, be.open)
			is.NoErr(b.deploy(t, "orders", path, secret))

			check := func() {
				t.Helper()
				get, err := b.api.GetDeploymentStatus(t.Context(), &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: "orders"}})
				is.NoErr(err)
				list, err := b.api.ListDeployments(t.Context(), &v1.ListDeploymentsRequest{})
				is.NoErr(err)
				for _, m := range []proto.Message{get, list} {
					j, err := protojson.Marshal(m)
					is.NoErr(err)
					bin, err := proto.Marshal(m)
					is.NoErr(err)
					is.True(!bytes.Contains(j, []byte(secret)))   // not in the JSON answer
					is.True(!bytes.Contains(bin, []byte(secret))) // not in the binary answer
				}
				hook := get.GetDeployment().GetTriggers()[0].GetWebhook()
				is.Equal(hook.GetSecret(), "")
				is.True(hook.GetHasSecret()) // says there is one
				is.True(list.GetDeployments()[0].GetTriggers()[0].GetWebhook().GetHasSecret())

				var raw []byte
				is.NoErr(b.db.Bun().NewSelect().Table("triggers").Column("webhook_secret").
					Where("webhook_path = ?", path).Scan(t.Context(), &raw))
				is.True(len(raw) > len(secret))                 // sealed: nonce and tag added
				is.True(!bytes.Contains(raw, []byte(secret)))   // not stored in clear
				is.True(!bytes.Contains(raw, []byte("whsec-"))) // not even a part of it
			}
			check()
			// Deploy again with the same path and no secret: the stored one is kept, and still signs.
			is.NoErr(b.deploy(t, "orders", path, ""))
			check()
			status, _ := b.deliver(t, path, "evt_1", b.now.Unix(), `{}`, "")
			is.Equal(status, http.StatusAccepted) // the kept secret still checks deliveries
		})
	}
}

// TestSecretWithoutKey: a secret sent to a server without WFR_WEBHOOK_SECRET_KEY is refused
// with failed_precondition naming the setting.
func TestSecretWithoutKey(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	db := storetest.OpenSQLite(t)
	svc := deployments.NewService(db, deployments.ServiceConfig{})
	_, _, err := svc.Deploy(t.Context(), &deployments.DeployParams{
		Definition: deployments.Definition{ID: "w", Nodes: []deployments.Node{{ID: "a", Type: "noop"}}},
		Triggers:   []deployments.Trigger{{ID: "hook", Webhook: &deployments.Webhook{Path: "p", Secret: secret}}},
	})
	is.True(errors.Is(err, errdefs.ErrFailedPrecondition))           // refused
	is.True(strings.Contains(err.Error(), "WFR_WEBHOOK_SECRET_KEY")) // names the setting
}

// TestBox: sealing uses a fresh nonce per value, and only the same key opens.
func TestBox(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	box, err := webhook.NewBoxBase64(key)
	is.NoErr(err)
	a, err := box.Seal([]byte(secret))
	is.NoErr(err)
	c, err := box.Seal([]byte(secret))
	is.NoErr(err)
	is.True(!bytes.Equal(a, c)) // a nonce per value
	got, err := box.Open(a)
	is.NoErr(err)
	is.Equal(string(got), secret)
	other, err := webhook.NewBox(bytes.Repeat([]byte{2}, 32))
	is.NoErr(err)
	_, err = other.Open(a)
	is.True(err != nil) // another key does not open it
	_, err = box.Open(a[:10])
	is.True(err != nil) // truncated
	_, err = webhook.NewBoxBase64("c2hvcnQ=")
	is.True(err != nil) // short key
}
