// Package deploytest checks the packaging against the binary it packages: the Kubernetes
// manifests (deploy/k8s, rendered with kustomize's Go API and decoded strictly into the
// Kubernetes API types), compose.yaml (loaded with compose-go) and the Dockerfile (parsed with
// BuildKit's parser). Every WFR_* name is checked against the `env` tags of internal/config.Config,
// every command is parsed and validated as the binary would at start-up, and every probe and
// healthcheck path is asked of the real health handlers (internal/health).
//
// It is a module of its own, so that kustomize, the Kubernetes API types and compose-go stay out
// of the service's module graph: `cd deploy/test && go test ./...`.
package deploytest
