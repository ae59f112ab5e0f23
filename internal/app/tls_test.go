package app_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// tlsClient trusts the certificates of files; it speaks HTTP/2 when the server offers it.
func tlsClient(t *testing.T, files ...*testenv.TLSFiles) (*http.Client, *tls.Config) {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range files {
		data, err := os.ReadFile(f.Cert)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(data)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, DisableKeepAlives: true}
	return &http.Client{Transport: tr}, cfg
}

// TestTLSServesAndReloads: with a certificate the port speaks TLS only, Connect over HTTP/1.1
// and HTTP/2 and gRPC work, and a renewed certificate is served without a restart.
func TestTLSServesAndReloads(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	dir := t.TempDir()
	first := testenv.NewTLSFiles(t, dir)
	cfg := config.Default()
	cfg.TLSCertFile, cfg.TLSKeyFile = first.Cert, first.Key
	a := startConfig(t, cfg)
	base := "https://" + a.Addr()

	client, tlsCfg := tlsClient(t, first)
	for _, opts := range [][]connect.ClientOption{nil, {connect.WithGRPC()}} {
		api := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(client, base, opts...)
		_, err := api.ListDeployments(t.Context(), &workflowruntimev1.ListDeploymentsRequest{})
		is.NoErr(err) // Connect and gRPC over TLS
	}
	res, err := get(t, client, base+"/livez")
	is.NoErr(err)
	_ = res.Body.Close()
	is.Equal(res.Proto, "HTTP/2.0")                                           // ALPN chose HTTP/2
	is.Equal(res.TLS.PeerCertificates[0].SerialNumber.Cmp(first.Serial()), 0) // the first certificate

	is.Equal(statusOf(t, "http://"+a.Addr()+"/livez"), http.StatusBadRequest) // cleartext is refused
	conn, err := (&tls.Dialer{Config: tlsCfg}).DialContext(t.Context(), "tcp", a.Addr())
	is.NoErr(err)
	is.Equal(conn.(*tls.Conn).ConnectionState().NegotiatedProtocol, "h2") // gRPC clients get HTTP/2 by ALPN
	_ = conn.Close()

	// Renewed in place (written aside and renamed, as cert-manager and certbot do).
	second := testenv.NewTLSFiles(t, dir)
	client2, _ := tlsClient(t, first, second)
	res, err = get(t, client2, base+"/livez")
	is.NoErr(err)
	_ = res.Body.Close()
	is.Equal(res.TLS.PeerCertificates[0].SerialNumber.Cmp(second.Serial()), 0) // the renewed certificate, no restart
}

// TestTLSToDependencies: PostgreSQL (sslmode=verify-full), Redis (rediss://) and a remote engine
// (https://) all over TLS with the test's own authority; a triggered execution runs through
// all three.
func TestTLSToDependencies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	files := testenv.NewTLSFiles(t, "")
	pg := testenv.StartPostgresTLS(t, files)
	rd := testenv.StartRedisTLS(t, files)

	engCfg := config.Default()
	engCfg.Role = config.RoleEngine
	engCfg.TLSCertFile, engCfg.TLSKeyFile = files.Cert, files.Key
	eng := startConfig(t, engCfg)

	cfg := config.Default()
	cfg.DatabaseURL = pg.URL() + "&sslmode=verify-full&sslrootcert=" + files.Cert
	cfg.RedisURL = rd.URL()
	cfg.TLSCAFile = files.Cert
	cfg.EngineURL = "https://" + eng.Addr()
	all := startConfig(t, cfg)

	report := getHealth(t, "http://"+all.Addr())
	for _, dep := range []string{"database", "redis", "workflow_engine"} {
		is.Equal(report.Dependencies[dep].Status, health.StatusHealthy) // reached over TLS
	}

	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(h2cClient(), "http://"+all.Addr())
	_, err := client.DeployWorkflow(t.Context(), &workflowruntimev1.DeployWorkflowRequest{
		Definition: &workflowruntimev1.WorkflowDefinition{Id: "tls", Name: "tls", Nodes: []*workflowruntimev1.Node{{Id: "a", Type: "noop"}}},
	})
	is.NoErr(err)
	trig, err := client.TriggerWorkflow(t.Context(), &workflowruntimev1.TriggerWorkflowRequest{
		Target: &workflowruntimev1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "tls"},
	})
	is.NoErr(err)
	status := waitExecution(t, client, trig.GetExecution().GetId()).GetStatus()
	is.Equal(status, workflowruntimev1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // queue on TLS Redis, row on TLS PostgreSQL, run on the TLS engine
}

func get(t *testing.T, client *http.Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client.Do(req)
}
