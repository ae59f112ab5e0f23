package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
)

func TestParseTimeArg(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]time.Time{
		"now":                  now,
		"-24h":                 now.Add(-24 * time.Hour),
		"+90m":                 now.Add(90 * time.Minute),
		"-7d":                  now.Add(-7 * 24 * time.Hour),
		"2026-03-01T10:00:00Z": time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		"2026-03-01":           time.Date(2026, 3, 1, 0, 0, 0, 0, berlin), // local: the output's zone
		"2026-03-01T10:30":     time.Date(2026, 3, 1, 10, 30, 0, 0, berlin),
		"2026-03-01 10:30:05":  time.Date(2026, 3, 1, 10, 30, 5, 0, berlin),
	} {
		ta, err := parseTimeArg(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := ta.at(now, berlin); !got.Equal(want) {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"yesterday", "-1x", "-d", "+xd", "2026-13-01", "24h"} {
		if _, err := parseTimeArg(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestBar(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(bar(10, 10, 4), "████")  // full
	is.Equal(bar(5, 10, 4), "██  ")   // half, padded
	is.Equal(bar(1, 16, 2), "▏ ")     // an eighth of a cell
	is.Equal(bar(0.001, 10, 2), "▏ ") // anything shows
	is.Equal(bar(0, 10, 3), "   ")    // nothing is blank
	is.Equal(bar(3, 0, 2), "  ")      // no scale
	is.Equal(len([]rune(bar(7, 9, 40))), 40)
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	for code, want := range map[connect.Code]int{
		connect.CodeInvalidArgument:    ExitUsage,
		connect.CodeOutOfRange:         ExitUsage,
		connect.CodeNotFound:           ExitNotFound,
		connect.CodeUnavailable:        ExitUnavailable,
		connect.CodeDeadlineExceeded:   ExitUnavailable,
		connect.CodeResourceExhausted:  ExitUnavailable,
		connect.CodeUnauthenticated:    ExitDenied,
		connect.CodePermissionDenied:   ExitDenied,
		connect.CodeFailedPrecondition: ExitConflict,
		connect.CodeAlreadyExists:      ExitConflict,
		connect.CodeAborted:            ExitConflict,
		connect.CodeCanceled:           ExitInterrupted,
		connect.CodeInternal:           ExitError,
		connect.CodeUnimplemented:      ExitError,
	} {
		is.Equal(exitCode(ctx, connect.NewError(code, errors.New("x"))), want) // by the service's code
	}
	is.Equal(exitCode(ctx, nil), ExitOK)
	is.Equal(exitCode(ctx, errors.New("disk full")), ExitError)
	is.Equal(exitCode(ctx, usagef("bad")), ExitUsage)
	is.Equal(exitCode(ctx, &executionFailedError{}), ExitExecutionFailed)
	is.Equal(exitCode(ctx, unhealthyError{}), ExitUnavailable)
	done, cancel := context.WithCancel(ctx)
	cancel()
	is.Equal(exitCode(done, errors.New("stopped")), ExitInterrupted) // Ctrl-C
}

func TestProtojsonError(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(protojsonError(errors.New("proto: (line 1:2): unknown field \"workflow\"")), `unknown field "workflow"`)
	is.Equal(protojsonError(errors.New("proto:\u00a0(line 3:14): invalid value for enum field overlapPolicy: \"X\"")), `invalid value for enum field overlapPolicy: "X"`)
	is.Equal(protojsonError(errors.New("proto: syntax error (line 1:1): unexpected token")), "syntax error: unexpected token")
}

func TestEnumNameAndFormats(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(enumName("EXECUTION_STATUS_TIMED_OUT"), "TIMED_OUT")
	is.Equal(enumName("SOMETHING_ELSE"), "SOMETHING_ELSE")
	is.Equal(truncate("a  b\nc", 10), "a b c")
	is.Equal(truncate("abcdef", 4), "abc…")
	is.Equal(roundDuration(1234567*time.Microsecond), 1230*time.Millisecond)
	is.Equal(seconds(90), "1m30s")
	is.True(strings.HasPrefix(completionScript("bash", "wfr", "/bin/wfr"), "complete -C"))
}
