package runtime_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// serverModules are modules of the service that a gateway importing the SDK must not get:
// the service itself, its database drivers, Redis, scheduling, CEL, telemetry, CLI and log
// libraries.
var serverModules = []string{
	"github.com/workflow-runtime/workflow-runtime ", // the service's own module (the SDK and gen are modules of their own)
	"github.com/jackc/pgx",
	"github.com/redis/go-redis",
	"github.com/uptrace/bun",
	"modernc.org/sqlite",
	"cel.dev/",
	"github.com/google/cel-go",
	"github.com/reugn/go-quartz",
	"go.opentelemetry.io/",
	"connectrpc.com/otelconnect",
	"github.com/prometheus/",
	"github.com/alecthomas/kong",
	"buf.build/go/protovalidate",
	"connectrpc.com/validate",
	"gopkg.in/natefinch/lumberjack",
	"google.golang.org/grpc ",
}

// goCommand runs the go command in testdata/consumer, a module that requires the SDK as a
// gateway's would, outside any workspace.
func goCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = "testdata/consumer"
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestConsumerModuleGraph: a program that imports the SDK builds, and its module graph holds
// nothing of the service.
func TestConsumerModuleGraph(t *testing.T) {
	t.Parallel()
	goCommand(t, "build", "-o", os.DevNull, ".")
	graph := goCommand(t, "list", "-m", "all")
	t.Logf("module graph of a gateway using the SDK:\n%s", graph)
	for _, line := range strings.Split(strings.TrimSpace(graph), "\n") {
		for _, forbidden := range serverModules {
			if strings.HasPrefix(line+" ", forbidden) {
				t.Errorf("the SDK brings a module of the service into its users' builds: %s", line)
			}
		}
	}
	for _, want := range []string{"connectrpc.com/connect ", "github.com/workflow-runtime/workflow-runtime/gen ", "github.com/workflow-runtime/workflow-runtime/sdk/go "} {
		if !strings.Contains(graph, want) {
			t.Errorf("the graph lacks %s: is testdata/consumer still a user of the SDK?", want)
		}
	}
}
