package deploytest

import (
	"path"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestKubernetesManifestsBroken proves that each check can fail: testdata/broken-k8s is the
// real kustomization with one fault per check patched in, and each must be reported.
func TestKubernetesManifestsBroken(t *testing.T) {
	t.Parallel()
	img := repoImage(t)
	m, problems, err := loadManifests("testdata/broken-k8s", path.Join(repoRoot, "deploy/k8s/secrets.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	problems = append(problems, checkManifests(m, img)...)
	expectProblems(t, problems,
		// strict decoding: a misspelt field
		`decode Service workflow-runtime-metrics: strict decoding error: unknown field "spec.publishNotReadyAddress"`,
		// the kubelet's non-root check
		"Deployment workflow-runtime-api: container api: runAsUser 0 with runAsNonRoot",
		// a probe on a path the binary does not serve, and liveness on readiness
		"Deployment workflow-runtime-worker: container worker: readinessProbe path /ready is not served",
		"Deployment workflow-runtime-scheduler: container scheduler: livenessProbe path /readyz answers 503 while the process is not ready",
		// a probe on another port than WFR_ADDR's
		"Deployment workflow-runtime-engine: container engine: startupProbe port 9090 is 9090, not WFR_ADDR's port 8080",
		// a setting the binary does not read
		"Deployment workflow-runtime-scheduler: container scheduler: sets [WFR_SCHEDULER_THREADS]",
		// a role that does not exist
		`Deployment workflow-runtime-api: container api: serve --role=gateway: parse config: --role must be one of`,
		// migration in the pods
		"Deployment workflow-runtime-engine: container engine: WFR_MIGRATE_ON_START is not false",
		// a grace shorter than the drain
		"Deployment workflow-runtime-worker: container worker: terminationGracePeriodSeconds 60 is not above the preStop pause (0s) plus WFR_SHUTDOWN_GRACE (1m30s)",
		// an autoscaler on a Deployment that does not exist
		"HorizontalPodAutoscaler workflow-runtime-api: target apps/v1 Deployment workflow-runtime-apii is not a Deployment",
		"role api has no HorizontalPodAutoscaler",
		// a budget that selects nothing
		"PodDisruptionBudget workflow-runtime-scheduler: selector map[app.kubernetes.io/component:schedulr app.kubernetes.io/name:workflow-runtime] selects the pods of 0 Deployments",
		"Deployment workflow-runtime-scheduler has 0 PodDisruptionBudgets",
		// a Secret key the secrets file does not have
		"Job workflow-runtime-migrate: container migrate: env WFR_DATABASE_URL: Secret workflow-runtime has no key database_url",
	)
}

// TestKubernetesChecksFail proves the checks the fixture does not reach: each case breaks one
// thing in the decoded manifests and expects its problem.
func TestKubernetesChecksFail(t *testing.T) {
	t.Parallel()
	img := repoImage(t)
	objects, err := render(path.Join(repoRoot, "deploy/k8s"))
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := readDocs(path.Join(repoRoot, "deploy/k8s/secrets.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	deployment := func(m *manifests, role string) *appsv1.Deployment {
		for _, d := range m.deployments {
			if d.Spec.Template.Labels[componentLabel] == role {
				return d
			}
		}
		t.Fatalf("no Deployment of role %s", role)
		return nil
	}
	first := func(m *manifests, role string) *corev1.Container {
		return &deployment(m, role).Spec.Template.Spec.Containers[0]
	}
	setEnv := func(c *corev1.Container, name, value string) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i] = corev1.EnvVar{Name: name, Value: value}
				return
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	for _, tc := range []struct {
		name  string
		spoil func(m *manifests)
		want  string
	}{
		{"writable root", func(m *manifests) {
			*first(m, "worker").SecurityContext.ReadOnlyRootFilesystem = false
		}, "container worker: readOnlyRootFilesystem is not true"},
		{"no seccomp", func(m *manifests) {
			deployment(m, "scheduler").Spec.Template.Spec.SecurityContext.SeccompProfile = nil
		}, "container scheduler: seccompProfile is not RuntimeDefault"},
		{"a capability", func(m *manifests) {
			first(m, "engine").SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, "container engine: capabilities add [NET_ADMIN]"},
		{"escalation", func(m *manifests) {
			first(m, "engine").SecurityContext.AllowPrivilegeEscalation = nil
		}, "container engine: allowPrivilegeEscalation is not false"},
		{"root allowed", func(m *manifests) {
			m.jobs[0].Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}, "container migrate: runAsNonRoot is not true"},
		{"user by name", func(m *manifests) {
			deployment(m, "api").Spec.Template.Spec.SecurityContext.RunAsUser = nil
		}, "container api: runAsNonRoot without a numeric runAsUser"},
		{"no memory limit", func(m *manifests) {
			delete(first(m, "engine").Resources.Limits, corev1.ResourceMemory)
		}, "container engine: no memory limit"},
		{"scrape port", func(m *manifests) {
			deployment(m, "api").Spec.Template.Annotations["prometheus.io/port"] = "9090"
		}, `Deployment workflow-runtime-api: prometheus.io annotations scrape="true" port="9090"`},
		{"scraped Job", func(m *manifests) {
			m.jobs[0].Spec.Template.Annotations["prometheus.io/scrape"] = "true"
		}, "container migrate: prometheus.io/scrape is true, but migrate serves no metrics"},
		{"Job serves", func(m *manifests) {
			m.jobs[0].Spec.Template.Spec.Containers[0].Args = []string{"serve", "--role=engine", "--auth=none"}
		}, "container migrate: runs serve; the only Job of the packaging runs migrate"},
		{"another entrypoint", func(m *manifests) {
			first(m, "api").Command = []string{"/bin/sh", "-c"}
		}, "container api: command [/bin/sh -c] replaces the image's entrypoint"},
		{"another listen port", func(m *manifests) {
			for _, cm := range m.configMaps {
				cm.Data["WFR_ADDR"] = ":9000"
			}
		}, "container worker: no container port 9000"},
		{"api without tokens", func(m *manifests) {
			c := first(m, "api")
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return strings.HasPrefix(e.Name, "WFR_AUTH") })
		}, "container api: serve --role=api: parse config: WFR_AUTH: the API would listen on :8080"},
		{"tokens file not mounted", func(m *manifests) {
			setEnv(first(m, "api"), "WFR_AUTH_TOKENS_FILE", "/etc/tokens")
		}, "container api: WFR_AUTH_TOKENS_FILE /etc/tokens is not a key of a Secret volume"},
		{"engine URL", func(m *manifests) {
			setEnv(first(m, "worker"), "WFR_ENGINE_URL", "http://workflow-runtime-engin")
		}, "container worker: WFR_ENGINE_URL http://workflow-runtime-engin: no Service workflow-runtime-engin"},
		{"engine URL port", func(m *manifests) {
			setEnv(first(m, "worker"), "WFR_ENGINE_URL", "http://workflow-runtime-engine:8080")
		}, "Service workflow-runtime-engine has no port 8080"},
		{"engine token", func(m *manifests) {
			m.secrets["workflow-runtime"].StringData["engine-token"] = "0123456789abcdef0123"
		}, "container worker: WFR_ENGINE_TOKEN is not a token with the engine scope in the tokens file of Deployment workflow-runtime-engine"},
		{"Service selector", func(m *manifests) {
			for _, s := range m.services {
				if s.Name == "workflow-runtime-api" {
					s.Spec.Selector[componentLabel] = "api-server"
				}
			}
		}, "Service workflow-runtime-api: selector map[app.kubernetes.io/component:api-server app.kubernetes.io/name:workflow-runtime] selects no Deployment's pods"},
		{"Service target", func(m *manifests) {
			for _, s := range m.services {
				if s.Name == "workflow-runtime-metrics" {
					s.Spec.Ports[0].TargetPort = intstr.FromInt32(9090)
				}
			}
		}, "Service workflow-runtime-metrics: port metrics targets 9090"},
		{"replicas under an autoscaler", func(m *manifests) {
			deployment(m, "worker").Spec.Replicas = new(int32(3))
		}, "HorizontalPodAutoscaler workflow-runtime-worker: Deployment workflow-runtime-worker sets replicas"},
		{"budget blocks drains", func(m *manifests) {
			for _, b := range m.pdbs {
				if b.Name == "workflow-runtime-scheduler" {
					b.Spec.MaxUnavailable = nil
					b.Spec.MinAvailable = new(intstr.FromInt32(2))
				}
			}
		}, "PodDisruptionBudget workflow-runtime-scheduler: minAvailable 2 of 2 replicas blocks every node drain"},
		{"overlapping selectors", func(m *manifests) {
			delete(deployment(m, "engine").Spec.Selector.MatchLabels, componentLabel)
		}, "Deployment workflow-runtime-engine: selector also selects the pods of workflow-runtime-api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, problems := decodeManifests(objects, secrets)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			tc.spoil(m)
			expectProblems(t, checkManifests(m, img), tc.want)
		})
	}
}
