package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// repoRoot is the repository, from this module's directory.
const repoRoot = "../.."

// manifests are the objects of a rendered kustomization, decoded into the Kubernetes API types,
// and the Secrets they refer to (which the kustomization does not hold: secrets.example.yaml).
type manifests struct {
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
}

// decoder decodes YAML strictly into the API types of the kinds the manifests may hold: an
// unknown field, a duplicate field, a wrong type or an unknown kind is an error, as the API
// server's strict field validation (kubectl apply's default) would make it.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv2.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
}()

// render builds the kustomization in dir with kustomize's Go API (what `kubectl kustomize dir`
// runs) and returns its objects as YAML documents.
func render(dir string) ([][]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var docs [][]byte
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("kustomize %s: %s: %w", dir, r.CurId(), err)
		}
		docs = append(docs, y)
	}
	return docs, nil
}

// readDocs splits a multi-document YAML file.
func readDocs(file string) ([][]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

// decodeManifests decodes the rendered objects and the Secrets strictly; each object that does
// not decode is a problem (and is left out of the checks).
func decodeManifests(objects, secrets [][]byte) (*manifests, []string) {
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	var problems []string
	decode := func(doc []byte, secretsOnly bool) {
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			problems = append(problems, fmt.Sprintf("decode %s: %v", describe(doc), err))
			return
		}
		if secretsOnly {
			if s, ok := obj.(*corev1.Secret); ok {
				m.secrets[s.Name] = s
			} else {
				problems = append(problems, fmt.Sprintf("secrets file holds a %s", gvk.Kind))
			}
			return
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployments = append(m.deployments, o)
		case *batchv1.Job:
			m.jobs = append(m.jobs, o)
		case *corev1.Service:
			m.services = append(m.services, o)
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpas = append(m.hpas, o)
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, o)
		case *corev1.Secret:
			problems = append(problems, fmt.Sprintf("Secret %s is in the kustomization: every apply would overwrite the real one (keep it in secrets.example.yaml)", o.Name))
		default:
			problems = append(problems, fmt.Sprintf("%s: a kind the checks do not know", describe(doc)))
		}
	}
	for _, doc := range objects {
		decode(doc, false)
	}
	for _, doc := range secrets {
		decode(doc, true)
	}
	return m, problems
}

// describe names a document for an error: its kind and name as far as they can be read.
func describe(doc []byte) string {
	name := ""
	for line := range strings.Lines(string(doc)) {
		if n, ok := strings.CutPrefix(line, "  name: "); ok {
			name = strings.TrimSpace(n)
			break
		}
	}
	kind := ""
	for line := range strings.Lines(string(doc)) {
		if k, ok := strings.CutPrefix(line, "kind: "); ok {
			kind = strings.TrimSpace(k)
			break
		}
	}
	return strings.TrimSpace(kind + " " + name)
}

// loadManifests renders the kustomization in dir and decodes it with the Secrets of
// secretsFile.
func loadManifests(dir, secretsFile string) (*manifests, []string, error) {
	objects, err := render(dir)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := readDocs(secretsFile)
	if err != nil {
		return nil, nil, err
	}
	m, problems := decodeManifests(objects, secrets)
	return m, problems, nil
}

// secretValue returns the value of key in the Secret name, from stringData or data.
func (m *manifests) secretValue(name, key string) (string, bool) {
	s, ok := m.secrets[name]
	if !ok {
		return "", false
	}
	if v, ok := s.StringData[key]; ok {
		return v, true
	}
	v, ok := s.Data[key]
	return string(v), ok
}

// secretKeys are the keys of the Secret name.
func (m *manifests) secretKeys(name string) map[string]bool {
	out := map[string]bool{}
	if s, ok := m.secrets[name]; ok {
		for k := range s.StringData {
			out[k] = true
		}
		for k := range s.Data {
			out[k] = true
		}
	}
	return out
}

func TestDecodeManifests(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	secret := []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: v\n")
	role := []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n")
	typo := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  A: b\ndatas: {}\n")
	m, problems := decodeManifests([][]byte{secret, role, typo}, [][]byte{secret})
	is.Equal(len(problems), 3)
	is.True(strings.Contains(problems[0], "Secret s is in the kustomization"))
	is.True(strings.Contains(problems[1], "decode Role r"))         // not a kind of the scheme
	is.True(strings.Contains(problems[2], `unknown field "datas"`)) // strict
	v, ok := m.secretValue("s", "k")
	is.True(ok)
	is.Equal(v, "v") // the secrets file's Secret
}
