package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matryer/is"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

// twoWorkflows is a YAML file of two deployments, as they are kept in git.
const twoWorkflows = `# Two workflows in one file; the leading --- and this comment make an empty document.
---
definition:
  id: PREFIX-greeter
  name: Greeter
  nodes:
    - id: greet
      type: transform
      params:
        expression: "{'greeting': 'hello ' + input.name}"
triggers:
  - id: hook
    webhook:
      path: PREFIX/in
config:
  overlapPolicy: OVERLAP_POLICY_ALLOW_ALL
  executionTimeout: 60s
---
definition:
  id: PREFIX-hourly
  nodes:
    - {id: start, type: noop}
triggers:
  - id: hourly
    cron:
      expression: "0 * * * *"
      timezone: Europe/Berlin
      jitter_window_seconds: 0   # the proto's own names work too
`

// oneJSON is a JSON file of one deployment, as examples/deploy.json.
const oneJSON = `{
  "definition": {"id": "PREFIX-json", "nodes": [{"id": "a", "type": "noop"}, {"id": "b", "type": "noop", "dependsOn": ["a"]}]},
  "triggers": [{"id": "nightly", "cron": {"expression": "30 2 * * *", "jitterWindowSeconds": 600}}],
  "config": {"retryPolicy": {"maxAttempts": 3, "initialBackoff": "1s"}}
}`

// manifests writes the two files into a directory of their own (with a file deploy ignores)
// and returns it.
func manifests(t *testing.T, prefix string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", strings.ReplaceAll(twoWorkflows, "PREFIX", prefix))
	writeFile(t, dir, "b.json", strings.ReplaceAll(oneJSON, "PREFIX", prefix))
	writeFile(t, dir, "README.md", "not a deployment")
	writeFile(t, dir, "nested/c.yaml", "definition: {id: "+prefix+"-nested, nodes: [{id: a, type: noop}]}\n")
	return dir
}

// deployResponses reads deploy -o json: an array of DeployWorkflowResponse.
func deployResponses(t *testing.T, out string) []*v1.DeployWorkflowResponse {
	t.Helper()
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(out), &raws); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	res := make([]*v1.DeployWorkflowResponse, len(raws))
	for i, r := range raws {
		res[i] = &v1.DeployWorkflowResponse{}
		if err := protojson.Unmarshal(r, res[i]); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// parse reads a command's -o json output into m.
func parse[M proto.Message](t *testing.T, out string, m M) M {
	t.Helper()
	if err := protojson.Unmarshal([]byte(out), m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return m
}

func TestDeployDryRunStoresNothing(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	dir := manifests(t, "dry")

	res := deployResponses(t, cmd(t, "deploy", "-f", dir, "--dry-run", "-o", "json").must(t).stdout)
	is.Equal(len(res), 3) // two YAML documents and one JSON file; not README.md nor nested/
	ids := []string{}
	for _, r := range res {
		ids = append(ids, r.GetDeployment().GetWorkflowId())
		is.True(r.GetCreated())                 // each would be created
		is.Equal(r.GetDeployment().GetId(), "") // by a deploy that did not happen
	}
	is.Equal(ids, []string{"dry-greeter", "dry-hourly", "dry-json"}) // in file order
	is.Equal(len(res[1].GetTriggerPreviews()), 1)                    // the hourly trigger's coming fires
	is.Equal(len(res[1].GetTriggerPreviews()[0].GetFires()), 5)

	for _, id := range ids {
		r := cmd(t, "get", id)
		is.Equal(r.code, cli.ExitNotFound) // stored nothing
	}

	// For people: what would happen, and the next fires.
	out := cmd(t, "deploy", "-f", dir, "--dry-run").must(t).stdout
	is.True(strings.Contains(out, "would be created"))
	is.True(strings.Contains(out, "NEXT FIRES"))
	is.True(strings.Contains(out, "hourly"))
}

func TestDeployFromFilesAndDirectories(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	dir := manifests(t, "files")

	res := deployResponses(t, cmd(t, "deploy", "-f", dir, "-R", "-o", "json").must(t).stdout)
	is.Equal(len(res), 4) // -R: nested/ too
	for _, r := range res {
		is.True(r.GetCreated())
		is.True(r.GetDeployment().GetId() != "")
		is.Equal(r.GetDeployment().GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED)
	}

	got := parse(t, cmd(t, "get", "files-json", "-o", "json").must(t).stdout, &v1.GetDeploymentStatusResponse{})
	d := got.GetDeployment()
	is.Equal(d.GetRevision(), int32(1))
	is.Equal(d.GetConfig().GetRetryPolicy().GetMaxAttempts(), uint32(3)) // the JSON file's config
	is.Equal(d.GetTriggers()[0].GetCron().GetJitterWindowSeconds(), uint32(600))
	is.Equal(len(got.GetTriggerPreviews()), 1)

	// By deployment id too, and as YAML.
	var doc map[string]any
	is.NoErr(yaml.Unmarshal([]byte(cmd(t, "get", d.GetId(), "-o", "yaml").must(t).stdout), &doc))
	is.Equal(doc["deployment"].(map[string]any)["workflowId"], "files-json")

	// Again, one file: a new revision of each of its workflows; for people.
	out := cmd(t, "deploy", "-f", dir+"/a.yaml").must(t).stdout
	is.True(strings.Contains(out, "files-greeter"))
	is.True(strings.Contains(out, "revision 2"))

	// From stdin.
	in := invocation{stdin: strings.ReplaceAll(oneJSON, "PREFIX", "stdin")}
	res = deployResponses(t, in.run(t, "deploy", "-f", "-", "-o", "json").must(t).stdout)
	is.Equal(res[0].GetDeployment().GetWorkflowId(), "stdin-json")

	// Listed.
	list := parse(t, cmd(t, "list", "-o", "json", "--status", "deployed").must(t).stdout, &v1.ListDeploymentsResponse{})
	names := map[string]bool{}
	for _, d := range list.GetDeployments() {
		names[d.GetWorkflowId()] = true
	}
	is.True(names["files-greeter"] && names["files-hourly"] && names["files-json"] && names["stdin-json"])
	is.True(strings.Contains(cmd(t, "list").must(t).stdout, "files-hourly"))
}

func TestDeployRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", "definition: {id: refused-good, nodes: [{id: a, type: noop}]}\n")
	for _, tc := range []struct {
		name    string
		content string
		code    int
		says    []string
	}{
		{"an unknown field is named", "workflow: {id: x}\n", cli.ExitUsage, []string{`unknown field "workflow"`, "typo.yaml"}},
		{"an unknown enum value", "definition: {id: x, nodes: [{id: a, type: noop}]}\nconfig: {overlapPolicy: SOMETIMES}\n", cli.ExitUsage, []string{"SOMETIMES"}},
		{"YAML that does not parse", "definition: [\n", cli.ExitUsage, []string{"typo.yaml"}},
		{"a list is not a deployment", "- a\n- b\n", cli.ExitUsage, []string{"a mapping"}},
		{"the service's rule names field and rule", "definition:\n  id: refused-cycle\n  nodes:\n    - {id: a, type: noop, dependsOn: [b]}\n    - {id: b, type: noop, dependsOn: [a]}\n",
			cli.ExitUsage, []string{"invalid_argument", "definition.nodes", "nodes.acyclic", "nothing deployed"}},
		{"the proto's rule names field and rule", "definition: {id: Not_Valid, nodes: [{id: a, type: noop}]}\n", cli.ExitUsage, []string{"definition.id", "string.pattern"}},
		{"one workflow twice", "definition: {id: twice, nodes: [{id: a, type: noop}]}\n---\ndefinition: {id: twice, nodes: [{id: a, type: noop}]}\n", cli.ExitUsage, []string{`"twice"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			bad := writeFile(t, t.TempDir(), "typo.yaml", tc.content)
			r := cmd(t, "deploy", "-f", good, "-f", bad)
			is.Equal(r.code, tc.code)
			for _, s := range tc.says {
				is.True(strings.Contains(r.stderr, s)) // the error says what and where
			}
			is.Equal(cmd(t, "get", "refused-good").code, cli.ExitNotFound) // the good one was not deployed either
		})
	}

	t.Run("a file that does not exist", func(t *testing.T) {
		t.Parallel()
		r := cmd(t, "deploy", "-f", dir+"/missing.yaml")
		is.New(t).Equal(r.code, cli.ExitUsage)
	})
	t.Run("a directory without deployments", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		empty := t.TempDir()
		writeFile(t, empty, "notes.txt", "nothing")
		r := cmd(t, "deploy", "-f", empty)
		is.Equal(r.code, cli.ExitUsage)
		is.True(strings.Contains(r.stderr, "no deployment found"))
	})
	t.Run("a webhook path taken by another deployment", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		cmd(t, "deploy", "-f", writeFile(t, t.TempDir(), "a.yaml", "definition: {id: path-owner, nodes: [{id: a, type: noop}]}\ntriggers: [{id: h, webhook: {path: taken/path}}]\n")).must(t)
		r := cmd(t, "deploy", "--dry-run", "-f", writeFile(t, t.TempDir(), "b.yaml", "definition: {id: path-thief, nodes: [{id: a, type: noop}]}\ntriggers: [{id: h, webhook: {path: taken/path}}]\n"))
		is.Equal(r.code, cli.ExitConflict) // already_exists, found by the dry run
		is.True(strings.Contains(r.stderr, "path-thief"))
	})
}

// oldService answers DeployWorkflow as a service older than validate_only does: it does not
// know the field and deploys.
type oldService struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler
}

func (oldService) DeployWorkflow(_ context.Context, req *v1.DeployWorkflowRequest) (*v1.DeployWorkflowResponse, error) {
	return &v1.DeployWorkflowResponse{Created: true, Deployment: &v1.Deployment{Id: "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b", WorkflowId: req.GetDefinition().GetId()}}, nil
}

// TestDeployRefusesAServiceThatIgnoresValidateOnly: the check finds out that the service
// deployed instead of checking, says so, and deploys nothing more.
func TestDeployRefusesAServiceThatIgnoresValidateOnly(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	mux := http.NewServeMux()
	mux.Handle(workflowruntimev1connect.NewWorkflowRuntimeServiceHandler(oldService{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	file := writeFile(t, t.TempDir(), "a.yaml", "definition: {id: old-service, nodes: [{id: a, type: noop}]}\n")
	r := cmd(t, "deploy", "-f", file, "--dry-run", "--addr", srv.URL, "--protocol", "connect")
	is.Equal(r.code, cli.ExitError)
	is.True(strings.Contains(r.stderr, "does not know validate_only"))
}

func TestDeployPrintsWarnings(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	dir := t.TempDir()
	// 02:30 in Berlin falls in the hour the clocks skip every March and repeat every October.
	writeFile(t, dir, "dst.yaml", `definition: {id: warned-nightly, nodes: [{id: a, type: noop}]}
triggers:
  - id: nightly
    cron: {expression: "30 2 * * *", timezone: Europe/Berlin}
`)
	r := cmd(t, "deploy", "-f", dir, "--dry-run").must(t)
	is.True(strings.Contains(r.stderr, "warning: triggers[0].cron.expression:")) // on stderr, with the field
	is.True(!strings.Contains(r.stdout, "warning"))                              // the table stays clean
	r = cmd(t, "deploy", "-f", dir).must(t)
	is.True(strings.Contains(r.stderr, "warning: triggers[0].cron.expression:")) // the deploy warns too
}
