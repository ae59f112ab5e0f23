package deploytest

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// componentLabel names the role a pod runs.
const componentLabel = "app.kubernetes.io/component"

// autoscaled are the roles that scale with load and so have a HorizontalPodAutoscaler (the api:
// stateless behind its Service; the worker: capacity grows with replicas).
var autoscaled = []string{"api", "worker"}

// pod is one pod template of the manifests.
type pod struct {
	where       string // "Deployment workflow-runtime-api"
	deployment  *appsv1.Deployment
	labels      map[string]string
	annotations map[string]string
	spec        *corev1.PodSpec
}

// container is one container with its environment and configuration resolved.
type container struct {
	pod   *pod
	c     *corev1.Container
	where string
	env   map[string]string
	inv   invocation
	ok    bool // the command parsed
}

// problems collects what is wrong, one sentence each.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// checkManifests checks the manifests against the binary and the image: see the checks below.
func checkManifests(m *manifests, img image) []string {
	var p problems
	var pods []*pod
	for _, d := range m.deployments {
		pods = append(pods, &pod{where: "Deployment " + d.Name, deployment: d,
			labels: d.Spec.Template.Labels, annotations: d.Spec.Template.Annotations, spec: &d.Spec.Template.Spec})
	}
	for _, j := range m.jobs {
		pods = append(pods, &pod{where: "Job " + j.Name,
			labels: j.Spec.Template.Labels, annotations: j.Spec.Template.Annotations, spec: &j.Spec.Template.Spec})
	}
	var containers []*container
	for _, pd := range pods {
		if len(pd.spec.InitContainers) > 0 {
			p.add("%s: init containers are not checked; the packaging has none", pd.where)
		}
		for i := range pd.spec.Containers {
			c := m.resolve(pd, &pd.spec.Containers[i], img, &p)
			containers = append(containers, c)
			checkSecurity(c, img, &p)
			checkResources(c, &p)
			if c.ok {
				checkInvocation(c, &p)
			}
			if c.ok && pd.deployment != nil {
				checkServing(c, &p)
			}
			m.checkTokensFile(c, &p)
		}
	}
	checkRoles(m, containers, &p)
	m.checkServices(containers, &p)
	m.checkEngineWiring(containers, &p)
	m.checkAutoscalers(&p)
	m.checkDisruptionBudgets(&p)
	return p
}

// resolve computes a container's environment as the kubelet would (the image's ENV, then
// envFrom in order, then env; $(VAR) expanded) from the ConfigMaps of the manifests and the
// Secrets of the secrets file, and parses its command line with it.
func (m *manifests) resolve(pd *pod, c *corev1.Container, img image, p *problems) *container {
	out := &container{pod: pd, c: c, where: pd.where + ": container " + c.Name}
	defined := map[string]string{} // what the container defines, for $(VAR)
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := m.configMaps[from.ConfigMapRef.Name]
			if !ok {
				p.add("%s: envFrom ConfigMap %s is not in the manifests", out.where, from.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				defined[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			keys := m.secretKeys(from.SecretRef.Name)
			if len(keys) == 0 {
				p.add("%s: envFrom Secret %s is not in the secrets file", out.where, from.SecretRef.Name)
			}
			for k := range keys {
				defined[from.Prefix+k], _ = m.secretValue(from.SecretRef.Name, k)
			}
		}
	}
	for _, e := range c.Env {
		switch vf := e.ValueFrom; {
		case vf == nil:
			defined[e.Name] = expand(e.Value, defined)
		case vf.ConfigMapKeyRef != nil:
			cm, ok := m.configMaps[vf.ConfigMapKeyRef.Name]
			v, found := "", false
			if ok {
				v, found = cm.Data[vf.ConfigMapKeyRef.Key]
			}
			if !found {
				p.add("%s: env %s: ConfigMap %s has no key %s", out.where, e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key)
			}
			defined[e.Name] = v
		case vf.SecretKeyRef != nil:
			v, found := m.secretValue(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
			if !found {
				p.add("%s: env %s: Secret %s has no key %s in the secrets file", out.where, e.Name, vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
			}
			defined[e.Name] = v
		case vf.FieldRef != nil:
			defined[e.Name] = fieldValue(vf.FieldRef.FieldPath)
		case vf.ResourceFieldRef != nil:
			defined[e.Name] = "1"
		}
	}
	out.env = maps.Clone(img.env)
	maps.Copy(out.env, defined)
	if names := unknownSettings(out.env); len(names) > 0 {
		p.add("%s: sets %v, which the binary does not read (internal/config)", out.where, names)
	}
	if len(c.Command) > 0 && !slices.Equal(c.Command, img.entrypoint) {
		p.add("%s: command %v replaces the image's entrypoint %v", out.where, c.Command, img.entrypoint)
	}
	inv, err := parseInvocation(c.Args, img.cmd, out.env)
	if err != nil {
		p.add("%s: %v", out.where, err)
		return out
	}
	out.inv, out.ok = inv, true
	return out
}

// expand replaces $(VAR) with the value of VAR when defined, and $$ with $, as the kubelet does.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			if s[i+1] == '$' {
				b.WriteByte('$')
				i++
				continue
			}
			if s[i+1] == '(' {
				if j := strings.IndexByte(s[i+2:], ')'); j >= 0 {
					if v, ok := vars[s[i+2:i+2+j]]; ok {
						b.WriteString(v)
						i += 2 + j
						continue
					}
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fieldValue is a value of the kind the downward API would give for path.
func fieldValue(path string) string {
	switch path {
	case "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		return "192.0.2.10"
	case "metadata.name":
		return "workflow-runtime-0"
	case "metadata.namespace":
		return "default"
	case "spec.nodeName":
		return "node-0"
	}
	return "value-of-" + path
}

// checkSecurity: the kubelet's non-root check (runAsNonRoot needs a numeric runAsUser that is
// not 0, from the container's or the pod's securityContext), the image's user and group, a
// read-only root, no privilege escalation, no capability, the runtime's seccomp profile.
func checkSecurity(c *container, img image, p *problems) {
	psc := c.pod.spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	nonRoot := cmpOr(csc.RunAsNonRoot, psc.RunAsNonRoot)
	user := cmpOr(csc.RunAsUser, psc.RunAsUser)
	group := cmpOr(csc.RunAsGroup, psc.RunAsGroup)
	switch {
	case nonRoot == nil || !*nonRoot:
		p.add("%s: runAsNonRoot is not true", c.where)
	case user == nil:
		p.add("%s: runAsNonRoot without a numeric runAsUser: the kubelet must trust the image's USER", c.where)
	case *user == 0:
		p.add("%s: runAsUser 0 with runAsNonRoot: the kubelet refuses to start the container", c.where)
	}
	if user != nil && *user != img.uid {
		p.add("%s: runAsUser %d is not the image's user %d", c.where, *user, img.uid)
	}
	if group == nil || *group != img.gid {
		p.add("%s: runAsGroup %v is not the image's group %d", c.where, deref(group), img.gid)
	}
	seccomp := cmpOr(csc.SeccompProfile, psc.SeccompProfile)
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p.add("%s: seccompProfile is not RuntimeDefault", c.where)
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		p.add("%s: readOnlyRootFilesystem is not true", c.where)
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		p.add("%s: allowPrivilegeEscalation is not false", c.where)
	}
	if csc.Privileged != nil && *csc.Privileged {
		p.add("%s: privileged", c.where)
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		p.add("%s: capabilities do not drop ALL", c.where)
	} else if len(csc.Capabilities.Add) > 0 {
		p.add("%s: capabilities add %v", c.where, csc.Capabilities.Add)
	}
}

// cmpOr returns the first non-nil pointer: the container's setting overrides the pod's.
func cmpOr[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// checkResources: CPU and memory requested (the scheduler places the pod, the autoscalers
// compute utilisation) and limited (memory: the node survives a leak; CPU: Go sets GOMAXPROCS).
func checkResources(c *container, p *problems) {
	r := c.c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		switch {
		case !hasReq || req.IsZero():
			p.add("%s: no %s request", c.where, name)
		case !hasLim || lim.IsZero():
			p.add("%s: no %s limit", c.where, name)
		case lim.Cmp(req) < 0:
			p.add("%s: %s limit %s is below the request %s", c.where, name, lim.String(), req.String())
		}
	}
}

// checkInvocation: a Deployment serves its role (its component label), with no migration at
// start-up; a Job migrates.
func checkInvocation(c *container, p *problems) {
	if c.pod.deployment == nil {
		if c.inv.command != "migrate" {
			p.add("%s: runs %s; the only Job of the packaging runs migrate", c.where, c.inv.command)
		}
		if c.pod.annotations["prometheus.io/scrape"] == "true" {
			p.add("%s: prometheus.io/scrape is true, but migrate serves no metrics", c.where)
		}
		return
	}
	if c.inv.command != "serve" {
		p.add("%s: runs %s; a Deployment serves a role", c.where, c.inv.command)
		return
	}
	if role := c.pod.labels[componentLabel]; string(c.inv.cfg.Role) != role {
		p.add("%s: serves role %s, but its pods are labelled %s=%s", c.where, c.inv.cfg.Role, componentLabel, role)
	}
	if c.inv.cfg.MigrateOnStart {
		p.add("%s: WFR_MIGRATE_ON_START is not false: the pods would race to migrate; the Job migrates", c.where)
	}
}

// checkServing: the container port, the probes and the scrape annotations are those of the
// binary's HTTP server on WFR_ADDR, and the pod's termination grace covers the drain.
func checkServing(c *container, p *problems) {
	cfg := c.inv.cfg
	port, err := addrPort(cfg)
	if err != nil {
		p.add("%s: %v", c.where, err)
		return
	}
	if !slices.ContainsFunc(c.c.Ports, func(cp corev1.ContainerPort) bool {
		return cp.ContainerPort == int32(port) && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP)
	}) {
		p.add("%s: no container port %d (WFR_ADDR %s)", c.where, port, cfg.Addr)
	}

	scheme := corev1.URISchemeHTTP
	if cfg.TLSCertFile != "" {
		scheme = corev1.URISchemeHTTPS
	}
	for _, pr := range []struct {
		kind  probeKind
		probe *corev1.Probe
	}{{liveness, c.c.LivenessProbe}, {readiness, c.c.ReadinessProbe}, {startup, c.c.StartupProbe}} {
		switch {
		case pr.probe == nil:
			p.add("%s: no %s", c.where, pr.kind)
			continue
		case pr.probe.HTTPGet == nil:
			p.add("%s: %s is not an httpGet on the binary's health endpoints", c.where, pr.kind)
			continue
		}
		get := pr.probe.HTTPGet
		if got := resolvePort(c.c, get.Port); got != port {
			p.add("%s: %s port %s is %d, not WFR_ADDR's port %d", c.where, pr.kind, get.Port.String(), got, port)
		}
		if cmp := get.Scheme; cmp != "" && cmp != scheme || cmp == "" && scheme != corev1.URISchemeHTTP {
			p.add("%s: %s scheme %q, the server speaks %s", c.where, pr.kind, get.Scheme, scheme)
		}
		if msg := checkProbePath(pr.kind, get.Path); msg != "" {
			p.add("%s: %s", c.where, msg)
		}
	}
	if cfg.AuthEnabled() && !cfg.AuthOpenHealth {
		p.add("%s: WFR_AUTH_OPEN_HEALTH is false: the kubelet's probes have no token", c.where)
	}

	a := c.pod.annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(port) || a["prometheus.io/path"] != metricsPath {
		p.add("%s: prometheus.io annotations scrape=%q port=%q path=%q, want \"true\", %q, %q",
			c.pod.where, a["prometheus.io/scrape"], a["prometheus.io/port"], a["prometheus.io/path"], strconv.Itoa(port), metricsPath)
	}
	if cfg.AuthEnabled() && !cfg.AuthOpenMetrics {
		p.add("%s: WFR_AUTH_OPEN_METRICS is false: the scrape has no token", c.where)
	}

	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if g := c.pod.spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	var pause int64
	if l := c.c.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		pause = l.PreStop.Sleep.Seconds
	}
	if float64(grace) <= float64(pause)+cfg.ShutdownGrace.Seconds() {
		p.add("%s: terminationGracePeriodSeconds %d is not above the preStop pause (%ds) plus WFR_SHUTDOWN_GRACE (%s): the kubelet kills the pod while it drains",
			c.where, grace, pause, cfg.ShutdownGrace)
	}
}

// resolvePort is the number of a probe's or Service's target port in the container (0: none).
func resolvePort(c *corev1.Container, port intstr.IntOrString) int {
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

// checkTokensFile: WFR_AUTH_TOKENS_FILE is a file of a Secret volume mounted in the container,
// the Secret is in the secrets file, and its content is a tokens file.
func (m *manifests) checkTokensFile(c *container, p *problems) {
	if !c.ok || c.inv.command != "serve" || c.inv.cfg.AuthTokensFile == "" {
		return
	}
	if _, ok := m.tokensFile(c); !ok {
		p.add("%s: WFR_AUTH_TOKENS_FILE %s is not a key of a Secret volume mounted in the container", c.where, c.inv.cfg.AuthTokensFile)
	}
}

// tokensFile returns the content of the container's WFR_AUTH_TOKENS_FILE from the secrets file.
func (m *manifests) tokensFile(c *container) (string, bool) {
	file := path.Clean(c.inv.cfg.AuthTokensFile)
	for _, vm := range c.c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, path.Clean(vm.MountPath)+"/")
		if !ok || vm.SubPath != "" {
			continue
		}
		for _, v := range c.pod.spec.Volumes {
			if v.Name != vm.Name || v.Secret == nil {
				continue
			}
			key := rel
			if len(v.Secret.Items) > 0 {
				key = ""
				for _, it := range v.Secret.Items {
					if path.Clean(it.Path) == rel {
						key = it.Key
					}
				}
			}
			if content, ok := m.secretValue(v.Secret.SecretName, key); ok && key != "" {
				return content, true
			}
		}
	}
	return "", false
}

// tokenScopes returns the scopes of token in a tokens file (NAME SCOPES TOKEN per line; see
// internal/auth), nil when it is not there.
func tokenScopes(file, token string) []string {
	for line := range strings.Lines(file) {
		line, _, _ = strings.Cut(line, "#")
		if f := strings.Fields(line); len(f) == 3 && f[2] == token {
			return strings.Split(f[1], ",")
		}
	}
	return nil
}

// checkRoles: each role of the binary runs in exactly one Deployment, whose selector selects its
// own pods and no other Deployment's.
func checkRoles(m *manifests, containers []*container, p *problems) {
	byRole := map[string][]string{}
	for _, c := range containers {
		if c.ok && c.pod.deployment != nil && c.inv.command == "serve" {
			byRole[string(c.inv.cfg.Role)] = append(byRole[string(c.inv.cfg.Role)], c.pod.deployment.Name)
		}
	}
	for _, role := range roles() {
		if n := len(byRole[role]); n != 1 {
			p.add("role %s runs in %d Deployments %v, want 1", role, n, byRole[role])
		}
	}
	for _, d := range m.deployments {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() {
			p.add("Deployment %s: selector %v: %v", d.Name, d.Spec.Selector, err)
			continue
		}
		for _, other := range m.deployments {
			matches := sel.Matches(labels.Set(other.Spec.Template.Labels))
			if other == d && !matches {
				p.add("Deployment %s: selector does not select its own pods", d.Name)
			}
			if other != d && matches {
				p.add("Deployment %s: selector also selects the pods of %s", d.Name, other.Name)
			}
		}
	}
}

// selected returns the Deployments whose pods sel selects.
func (m *manifests) selected(sel labels.Selector) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range m.deployments {
		if !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

// checkServices: every Service selects pods, and each port's target is a port of theirs.
func (m *manifests) checkServices(containers []*container, p *problems) {
	for _, s := range m.services {
		ds := m.selected(labels.SelectorFromSet(s.Spec.Selector))
		if len(ds) == 0 {
			p.add("Service %s: selector %v selects no Deployment's pods", s.Name, s.Spec.Selector)
		}
		for _, sp := range s.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			for _, c := range containers {
				if !c.ok || c.pod.deployment == nil || !slices.Contains(ds, c.pod.deployment) {
					continue // a command that does not parse is reported already
				}
				port, _ := addrPort(c.inv.cfg)
				if got := resolvePort(c.c, target); got != port {
					p.add("Service %s: port %s targets %s, which is %d in %s, not WFR_ADDR's port %d", s.Name, sp.Name, target.String(), got, c.where, port)
				}
			}
		}
	}
}

// checkEngineWiring: a container's WFR_ENGINE_URL names a Service of the manifests, on one of its
// ports, that selects the engine role's pods; its WFR_ENGINE_TOKEN is in the engine's tokens
// file with the engine scope.
func (m *manifests) checkEngineWiring(containers []*container, p *problems) {
	var engines []*container
	for _, c := range containers {
		if c.ok && c.pod.deployment != nil && c.inv.cfg.Role == "engine" {
			engines = append(engines, c)
		}
	}
	for _, c := range containers {
		if !c.ok || c.inv.command != "serve" || c.inv.cfg.EngineURL == "" {
			continue
		}
		u, err := url.Parse(c.inv.cfg.EngineURL)
		if err != nil {
			p.add("%s: WFR_ENGINE_URL: %v", c.where, err)
			continue
		}
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		name, _, _ := strings.Cut(host, ".")
		var svc *corev1.Service
		for _, s := range m.services {
			if s.Name == name {
				svc = s
			}
		}
		if svc == nil || net.ParseIP(host) != nil {
			p.add("%s: WFR_ENGINE_URL %s: no Service %s in the manifests", c.where, c.inv.cfg.EngineURL, name)
			continue
		}
		if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return strconv.Itoa(int(sp.Port)) == port }) {
			p.add("%s: WFR_ENGINE_URL %s: Service %s has no port %s", c.where, c.inv.cfg.EngineURL, svc.Name, port)
		}
		ds := m.selected(labels.SelectorFromSet(svc.Spec.Selector))
		if len(ds) != 1 || ds[0].Spec.Template.Labels[componentLabel] != "engine" {
			p.add("%s: WFR_ENGINE_URL %s: Service %s does not select the engine role's pods", c.where, c.inv.cfg.EngineURL, svc.Name)
		}
		for _, e := range engines {
			if !e.inv.cfg.AuthEnabled() {
				continue
			}
			file, _ := m.tokensFile(e)
			scopes := tokenScopes(file, c.inv.cfg.EngineToken)
			if c.inv.cfg.EngineToken == "" || !slices.Contains(scopes, "engine") && !slices.Contains(scopes, "admin") {
				p.add("%s: WFR_ENGINE_TOKEN is not a token with the engine scope in the tokens file of %s", c.where, e.where)
			}
		}
	}
}

// checkAutoscalers: each HorizontalPodAutoscaler scales a Deployment of the manifests that
// leaves its replicas to it, on resources its containers request; the autoscaled roles have one.
func (m *manifests) checkAutoscalers(p *problems) {
	scaled := map[string]bool{}
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		var target *appsv1.Deployment
		for _, d := range m.deployments {
			if ref.Kind == "Deployment" && ref.APIVersion == "apps/v1" && d.Name == ref.Name {
				target = d
			}
		}
		if target == nil {
			p.add("HorizontalPodAutoscaler %s: target %s %s %s is not a Deployment of the manifests", h.Name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		scaled[target.Spec.Template.Labels[componentLabel]] = true
		if target.Spec.Replicas != nil {
			p.add("HorizontalPodAutoscaler %s: Deployment %s sets replicas, which every apply resets under the autoscaler", h.Name, target.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			p.add("HorizontalPodAutoscaler %s: minReplicas %v, maxReplicas %d: want 2 <= min <= max", h.Name, deref(h.Spec.MinReplicas), h.Spec.MaxReplicas)
		}
		if len(h.Spec.Metrics) == 0 {
			p.add("HorizontalPodAutoscaler %s: no metrics", h.Name)
		}
		for _, mt := range h.Spec.Metrics {
			if mt.Resource == nil {
				continue
			}
			for _, c := range target.Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[mt.Resource.Name]; !ok {
					p.add("HorizontalPodAutoscaler %s: scales on %s, which container %s of %s does not request", h.Name, mt.Resource.Name, c.Name, target.Name)
				}
			}
		}
	}
	for _, role := range autoscaled {
		if !scaled[role] {
			p.add("role %s has no HorizontalPodAutoscaler", role)
		}
	}
}

// checkDisruptionBudgets: every Deployment has one PodDisruptionBudget, whose selector selects
// its pods and no other's, and which lets at least one pod go.
func (m *manifests) checkDisruptionBudgets(p *problems) {
	covered := map[*appsv1.Deployment]int{}
	for _, b := range m.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil {
			p.add("PodDisruptionBudget %s: selector: %v", b.Name, err)
			continue
		}
		ds := m.selected(sel)
		if len(ds) != 1 {
			p.add("PodDisruptionBudget %s: selector %v selects the pods of %d Deployments, want 1", b.Name, b.Spec.Selector.MatchLabels, len(ds))
			continue
		}
		d := ds[0]
		covered[d]++
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		for _, h := range m.hpas {
			if h.Spec.ScaleTargetRef.Name == d.Name && h.Spec.MinReplicas != nil {
				replicas = *h.Spec.MinReplicas
			}
		}
		if mu := b.Spec.MaxUnavailable; mu != nil && mu.Type == intstr.Int && mu.IntVal < 1 {
			p.add("PodDisruptionBudget %s: maxUnavailable %d blocks every node drain", b.Name, mu.IntVal)
		}
		if ma := b.Spec.MinAvailable; ma != nil && ma.Type == intstr.Int && ma.IntVal >= replicas {
			p.add("PodDisruptionBudget %s: minAvailable %d of %d replicas blocks every node drain", b.Name, ma.IntVal, replicas)
		}
	}
	for _, d := range m.deployments {
		if covered[d] != 1 {
			p.add("Deployment %s has %d PodDisruptionBudgets, want 1", d.Name, covered[d])
		}
	}
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	img := repoImage(t)
	m, problems, err := loadManifests(path.Join(repoRoot, "deploy/k8s"), path.Join(repoRoot, "deploy/k8s/secrets.example.yaml"))
	is.NoErr(err) // renders
	problems = append(problems, checkManifests(m, img)...)
	for _, p := range problems {
		t.Error(p)
	}
	// What the checks saw, so that a manifest missing from the render cannot pass unseen.
	is.Equal(len(m.deployments), 4) // api, scheduler, worker, engine
	is.Equal(len(m.jobs), 1)        // migrate
	is.Equal(len(m.hpas), 2)        // api, worker
	is.Equal(len(m.pdbs), 4)        // one per Deployment
	is.Equal(len(m.services), 3)    // api, engine, metrics
	is.Equal(len(m.configMaps), 1)  // the generated settings
	is.Equal(len(m.secrets), 3)     // the secrets file
}
