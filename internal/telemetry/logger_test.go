package telemetry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

func TestMaskValueContainers(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	strs := telemetry.MaskValue(map[string]string{"password": "hunter2", "user": "ann"}).(map[string]string)
	is.Equal(strs["password"], telemetry.Redacted)
	is.Equal(strs["user"], "ann")

	h := http.Header{"Authorization": {"Bearer x"}, "Accept": {"text/plain"}}
	masked := telemetry.MaskValue(h).(http.Header)
	is.Equal(masked["Authorization"], []string{telemetry.Redacted})
	is.Equal(masked["Accept"], []string{"text/plain"})
	is.Equal(h["Authorization"], []string{"Bearer x"}) // the input is not modified

	raw := telemetry.MaskValue(map[string][]string{"api_key": {"k"}, "q": {"1"}}).(map[string][]string)
	is.Equal(raw["api_key"], []string{telemetry.Redacted})
	is.Equal(raw["q"], []string{"1"})

	is.Equal(telemetry.MaskValue(42), 42) // scalars pass through
}

func TestMaskJSONRejectsTrailingData(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	out := string(telemetry.MaskJSON([]byte(`{"a":1} {"password":"x"}`)))
	is.True(!strings.Contains(out, `"x"`)) // two documents: replaced as a whole
	is.Equal(string(telemetry.MaskJSON([]byte("  "))), "  ")
}

// logOne logs msg with attrs through a JSON logger and returns the decoded line.
func logOne(t *testing.T, log func(l *slog.Logger)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	l, err := telemetry.NewLogger(&buf, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	log(l)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("decode %q: %v", buf.String(), err)
	}
	return line
}

type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type unloggable struct {
	C chan int
}

func TestLogsMaskAnyValues(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	line := logOne(t, func(l *slog.Logger) {
		l.Info("m",
			"raw", json.RawMessage(`{"token":"t1","n":1}`),
			"rawtext", json.RawMessage(`"plain"`),
			"bytes", []byte(`{"secret":"s1"}`),
			"plainbytes", []byte("not json"),
			"struct", credentials{User: "ann", Password: "p1"},
			"pointer", &credentials{User: "bob", Password: "p2"},
			"bad", unloggable{C: make(chan int)},
		)
	})
	is.Equal(line["raw"], map[string]any{"token": telemetry.Redacted, "n": 1.0})
	is.Equal(line["rawtext"], "plain")
	is.Equal(line["bytes"], map[string]any{"secret": telemetry.Redacted})
	is.Equal(line["struct"], map[string]any{"user": "ann", "password": telemetry.Redacted})
	is.Equal(line["pointer"], map[string]any{"user": "bob", "password": telemetry.Redacted})
	is.True(strings.HasPrefix(line["bad"].(string), "[unloggable")) // said, not dropped, not panicking
	is.True(!strings.Contains(mustJSON(t, line), "p1"))
	is.True(!strings.Contains(mustJSON(t, line), "s1"))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTextLogsShowMaskedJSONInline(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var buf bytes.Buffer
	l, err := telemetry.NewLogger(&buf, "info", "text")
	is.NoErr(err)
	l.Info("m", "body", map[string]any{"password": "p", "ok": true})
	out := buf.String()
	// The text handler quotes the document (jsonValue's String) in one value.
	is.True(strings.Contains(out, `body="{\"ok\":true,\"password\":\"[REDACTED]\"}"`))
	is.True(!strings.Contains(out, `\"p\"`))
}

func TestHandlerEmptyGroupAndAttrs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var buf bytes.Buffer
	h := telemetry.NewHandler(slog.NewJSONHandler(&buf, nil))
	is.Equal(h.WithGroup(""), slog.Handler(h)) // no group: the same handler
	is.Equal(h.WithAttrs(nil), slog.Handler(h))
	slog.New(h.WithAttrs([]slog.Attr{slog.String("token", "t")}).WithGroup("g")).Info("m", "k", "v")
	var line map[string]any
	is.NoErr(json.Unmarshal(buf.Bytes(), &line))
	is.Equal(line["token"], telemetry.Redacted)
	is.Equal(line["g"], map[string]any{"k": "v"})
}

func TestOpenLoggerWritesToFile(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "wfr.log")
	var stdout bytes.Buffer
	l, closer, err := telemetry.OpenLogger(&stdout, telemetry.LogOptions{
		Level: "info", Format: "json", File: path, FileMaxSizeMB: 1, FileMaxBackups: 2, FileMaxAgeDays: 1, FileCompress: true,
	})
	is.NoErr(err)
	l.Info("hello", "password", "p")
	l.Debug("below the level")
	is.NoErr(closer.Close())

	file, err := os.ReadFile(path)
	is.NoErr(err)
	is.Equal(string(file), stdout.String()) // the same lines on stdout and in the file
	is.True(strings.Contains(string(file), `"msg":"hello"`))
	is.True(!strings.Contains(string(file), "below the level"))
	is.True(!strings.Contains(string(file), `"p"`)) // masked in the file too
}

func TestOpenLoggerWithoutFile(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var stdout bytes.Buffer
	l, closer, err := telemetry.OpenLogger(&stdout, telemetry.LogOptions{})
	is.NoErr(err)
	l.Info("hi")
	is.NoErr(closer.Close()) // a no-op
	is.True(strings.Contains(stdout.String(), `"msg":"hi"`))
}

func TestOpenLoggerRejectsBadOptions(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "wfr.log")
	_, _, err := telemetry.OpenLogger(&bytes.Buffer{}, telemetry.LogOptions{Level: "loud", File: path})
	is.True(err != nil)
	_, _, err = telemetry.OpenLogger(&bytes.Buffer{}, telemetry.LogOptions{Format: "xml", File: path})
	is.True(err != nil)
	_, statErr := os.Stat(path)
	is.True(os.IsNotExist(statErr)) // nothing was written
}

// TestLogsMaskURLCredentials: the user information of a URL is masked wherever the URL is: a
// plain string under any key, an error's text, a string inside a JSON document or a map.
func TestLogsMaskURLCredentials(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	line := logOne(t, func(l *slog.Logger) {
		l.Info("m",
			"url", "https://ann:pw-secret-9@api.example.com/x?q=1",
			"dsn", "dial postgres://wfr:pw-secret-8@db:5432/wfr failed",
			"err", fmt.Errorf("get %q: refused", "http://tok-secret-7@example.com/"),
			"doc", `{"target":"http://u:pw-secret-6@h/"}`,
			"plain", "mail ann@example.com, see http://example.com/a@b", // no URL credentials
		)
	})
	is.Equal(line["url"], "https://[REDACTED]@api.example.com/x?q=1")
	is.Equal(line["dsn"], "dial postgres://[REDACTED]@db:5432/wfr failed")
	is.Equal(line["err"], `get "http://[REDACTED]@example.com/": refused`)
	is.Equal(line["doc"], `{"target":"http://[REDACTED]@h/"}`)
	is.Equal(line["plain"], "mail ann@example.com, see http://example.com/a@b")
	for _, s := range []string{"pw-secret-9", "pw-secret-8", "tok-secret-7", "pw-secret-6"} {
		is.True(!strings.Contains(mustJSON(t, line), s))
	}
}
