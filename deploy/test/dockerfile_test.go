package deploytest

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// image is what the Dockerfile's final stage gives every container that does not say otherwise.
type image struct {
	env        map[string]string // ENV
	uid, gid   int64             // USER, numeric
	entrypoint []string          // ENTRYPOINT (exec form)
	cmd        []string          // CMD (exec form)
	expose     []int             // EXPOSE, TCP ports
}

// readDockerfile parses the Dockerfile at file with BuildKit's parser (and the lint rules it
// applies while parsing) and returns its final stage's image, and the problems found: a user
// that is not numeric (the kubelet cannot check runAsNonRoot against a name), an entrypoint that
// is not the binary the build stage compiled, an EXPOSE that is not WFR_ADDR's port.
func readDockerfile(file string) (image, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	f, err := os.Open(file)
	if err != nil {
		return image{}, []string{err.Error()}
	}
	defer func() { _ = f.Close() }()
	res, err := parser.Parse(f)
	if err != nil {
		return image{}, []string{fmt.Sprintf("parse %s: %v", file, err)}
	}
	for _, w := range res.Warnings {
		bad("%s: %s", file, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		bad("%s: %s", file, linter.LintFormatShort(rule, msg, firstLine(loc)))
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return image{}, append(problems, fmt.Sprintf("parse %s: %v", file, err))
	}
	if len(stages) == 0 {
		return image{}, append(problems, file+": no stage")
	}

	// The binary the build stages compile: `go build ... -o PATH ./cmd/workflow-runtime`.
	built := map[string]string{} // stage name -> output path
	buildOut := regexp.MustCompile(`go build .*-o (\S+) \./cmd/workflow-runtime\b`)
	for _, st := range stages[:len(stages)-1] {
		for _, c := range st.Commands {
			if run, ok := c.(*instructions.RunCommand); ok {
				if m := buildOut.FindStringSubmatch(strings.Join(run.CmdLine, " ")); m != nil {
					built[st.Name] = m[1]
				}
			}
		}
	}

	final := stages[len(stages)-1]
	base := final.BaseName
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				base = strings.ReplaceAll(base, "${"+kv.Key+"}", *kv.Value)
			}
		}
	}
	if !strings.HasPrefix(base, "gcr.io/distroless/") || !strings.Contains(base, "nonroot") {
		bad("%s: the final stage is FROM %s, want a distroless nonroot base", file, base)
	}

	img := image{env: map[string]string{}, uid: -1, gid: -1}
	copied := map[string]bool{} // paths in the final image that hold the built binary
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				img.env[kv.Key] = kv.Value
			}
		case *instructions.UserCommand:
			user, group, _ := strings.Cut(c.User, ":")
			uid, uerr := strconv.ParseInt(user, 10, 64)
			gid, gerr := strconv.ParseInt(group, 10, 64)
			if uerr != nil || gerr != nil {
				bad("%s: USER %s: want numeric UID:GID, so that the kubelet can check runAsNonRoot", file, c.User)
				continue
			}
			if uid == 0 {
				bad("%s: USER %s is root", file, c.User)
			}
			img.uid, img.gid = uid, gid
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				bad("%s: ENTRYPOINT in shell form: want the exec form (signals reach the binary)", file)
			}
			img.entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			if c.PrependShell {
				bad("%s: CMD in shell form: want the exec form", file)
			}
			img.cmd = c.CmdLine
		case *instructions.ExposeCommand:
			for _, p := range c.Ports {
				port, proto, _ := strings.Cut(p, "/")
				n, err := strconv.Atoi(port)
				if err != nil || (proto != "" && proto != "tcp") {
					bad("%s: EXPOSE %s: want a TCP port", file, p)
					continue
				}
				img.expose = append(img.expose, n)
			}
		case *instructions.CopyCommand:
			if out, ok := built[c.From]; ok && slices.Contains(c.SourcePaths, out) {
				copied[c.DestPath] = true
			}
		}
	}
	if img.uid < 0 {
		bad("%s: no USER in the final stage: the image would run as root", file)
	}
	if len(img.entrypoint) == 0 || !copied[img.entrypoint[0]] {
		bad("%s: ENTRYPOINT %v is not the binary built by `go build -o` and copied into the final stage (%v)", file, img.entrypoint, keys(copied))
	}
	// The image's default WFR_ADDR is the port it exposes.
	env := map[string]string{"WFR_ADDR": img.env["WFR_ADDR"]}
	if inv, err := parseInvocation(nil, []string{"serve", "--auth=none"}, env); err != nil {
		bad("%s: ENV WFR_ADDR=%s: %v", file, img.env["WFR_ADDR"], err)
	} else if port, _ := addrPort(inv.cfg); !slices.Contains(img.expose, port) {
		bad("%s: EXPOSE %v does not include WFR_ADDR's port %d", file, img.expose, port)
	}
	if names := unknownSettings(img.env); len(names) > 0 {
		bad("%s: ENV sets %v, which the binary does not read", file, names)
	}
	return img, problems
}

func firstLine(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// repoImage is the image of the repository's Dockerfile; the test fails on its problems.
func repoImage(t *testing.T) image {
	t.Helper()
	img, problems := readDockerfile(path.Join(repoRoot, "Dockerfile"))
	for _, p := range problems {
		t.Error(p)
	}
	return img
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	img := repoImage(t)
	is.Equal(img.uid, int64(65532))                         // distroless nonroot
	is.Equal(img.gid, int64(65532))                         // distroless nonroot
	is.Equal(img.entrypoint, []string{"/workflow-runtime"}) // the binary
	is.Equal(img.cmd, []string{"serve"})                    // all roles by default
}

// TestDockerfileBroken proves the checks fail: the fixture runs as a user name, exposes another
// port than WFR_ADDR's and starts a path the build did not write.
func TestDockerfileBroken(t *testing.T) {
	t.Parallel()
	_, problems := readDockerfile("testdata/broken.Dockerfile")
	expectProblems(t, problems,
		"USER nonroot: want numeric UID:GID",
		"EXPOSE [9090] does not include WFR_ADDR's port 8080",
		"ENTRYPOINT [/usr/bin/workflow-runtime] is not the binary",
		"ENV sets [WFR_LISTEN]",
	)
}
