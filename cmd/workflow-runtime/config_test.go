package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// testConfigDocs: `config docs` describes the binary's own settings, serve's and migrate's,
// whatever the environment says, and writes or splices files.
func testConfigDocs(t *testing.T, b *testBundle) {
	is := is.New(t)
	// Invalid settings in the environment are not this command's business.
	bad := []string{"WFR_LOG_LEVEL=loud", "WFR_ADDR=nowhere"}

	out, err := b.command(t.Context(), bad, "config", "docs", "--format=json").Output()
	is.NoErr(err)
	var ref config.Reference
	is.NoErr(json.Unmarshal(out, &ref))
	byEnv := map[string]config.Setting{}
	for _, s := range ref.Settings {
		byEnv[s.Env] = s
		is.True(s.Group != "Other")                      // every setting has its group
		is.True(strings.HasPrefix(s.Env, "WFR_"))        // settings only: not the command's own flags
		is.Equal(s.Commands[len(s.Commands)-1], "serve") // serve takes every setting
	}
	is.Equal(byEnv["WFR_DATABASE_URL"].Commands, []string{"migrate", "serve"}) // migrate's settings agree with serve's
	is.Equal(byEnv["WFR_LOG_FORMAT"].Commands, []string{"migrate", "serve"})
	is.Equal(byEnv["WFR_LOG_COMPRESS"].Negatable, true) // --no-log-compress exists
	is.Equal(byEnv["WFR_ROLE"].Default, "all")

	markdown, err := b.command(t.Context(), bad, "config", "docs").Output()
	is.NoErr(err)
	is.True(strings.HasPrefix(string(markdown), "# Configuration\n"))
	file := filepath.Join(b.dir, "configuration.md")
	is.NoErr(b.command(t.Context(), nil, "config", "docs", "-o", file).Run())
	written, err := os.ReadFile(file)
	is.NoErr(err)
	is.Equal(string(written), string(markdown)) // --output writes what stdout shows

	summary, err := b.command(t.Context(), nil, "config", "docs", "--format=summary").Output()
	is.NoErr(err)
	readme := filepath.Join(b.dir, "README.md")
	is.NoErr(os.WriteFile(readme, []byte("# R\n<!-- config:begin -->\nold\n<!-- config:end -->\nend\n"), 0o600))
	is.NoErr(b.command(t.Context(), nil, "config", "docs", "--format=summary", "--splice", "-o", readme).Run())
	spliced, err := os.ReadFile(readme)
	is.NoErr(err)
	is.Equal(string(spliced), "# R\n<!-- config:begin -->\n"+string(summary)+"<!-- config:end -->\nend\n")

	is.NoErr(os.WriteFile(readme, []byte("# no markers\n"), 0o600))
	msg, err := b.command(t.Context(), nil, "config", "docs", "--format=summary", "--splice", "-o", readme).CombinedOutput()
	var exitErr *exec.ExitError
	is.True(errors.As(err, &exitErr))                      // a non-zero exit
	is.True(strings.Contains(string(msg), readme))         // the error names the file
	is.True(strings.Contains(string(msg), "config:begin")) // and what it lacks
	unchanged, err := os.ReadFile(readme)
	is.NoErr(err)
	is.Equal(string(unchanged), "# no markers\n")
}
