package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// Exit codes, for scripts (docs/cli.md). Every error of the service maps to one by its code.
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitError: any other failure (internal, unknown, unimplemented, a local I/O error).
	ExitError = 1
	// ExitUsage: the command line or its input is wrong: an unknown flag, a file that does not
	// parse, or the service's invalid_argument (or out_of_range), with each field and rule.
	ExitUsage = 2
	// ExitNotFound: the deployment or execution does not exist (not_found).
	ExitNotFound = 3
	// ExitExecutionFailed: the execution waited for (trigger --wait, executions watch ID)
	// ended without succeeding: FAILED, TIMED_OUT, CANCELLED or SKIPPED.
	ExitExecutionFailed = 4
	// ExitUnavailable: the service could not be reached or did not answer in time
	// (unavailable, deadline_exceeded), refused for now (resource_exhausted), or reports itself
	// unhealthy (health). Trying again later may work.
	ExitUnavailable = 5
	// ExitDenied: the token is missing, unknown (unauthenticated) or lacks the scope
	// (permission_denied).
	ExitDenied = 6
	// ExitConflict: the request does not fit the deployment's state: failed_precondition (pause
	// an archived deployment, trigger a paused one), already_exists (a webhook path taken),
	// aborted.
	ExitConflict = 7
	// ExitInterrupted: stopped by SIGINT or SIGTERM (Ctrl-C), as a shell reports 128+2.
	ExitInterrupted = 130
)

// exitCode is the code of an error of a command.
func exitCode(ctx context.Context, err error) int {
	var (
		coded  interface{ ExitCode() int }
		rerr   *runtime.Error
		cerr   *connect.Error
		code   connect.Code
		hasRPC bool
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &coded):
		return coded.ExitCode()
	case ctx.Err() != nil:
		return ExitInterrupted
	case errors.As(err, &rerr):
		code, hasRPC = rerr.Code, true
	case errors.As(err, &cerr):
		code, hasRPC = cerr.Code(), true
	}
	if !hasRPC {
		return ExitError
	}
	switch code {
	case connect.CodeInvalidArgument, connect.CodeOutOfRange:
		return ExitUsage
	case connect.CodeNotFound:
		return ExitNotFound
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted:
		return ExitUnavailable
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return ExitDenied
	case connect.CodeFailedPrecondition, connect.CodeAlreadyExists, connect.CodeAborted:
		return ExitConflict
	case connect.CodeCanceled:
		return ExitInterrupted
	}
	return ExitError
}

// report prints err (if any) on stderr, each field violation on a line of its own, and
// returns the exit code.
func report(ctx context.Context, env *Env, name string, err error) int {
	code := exitCode(ctx, err)
	if err == nil {
		return code
	}
	var silent *silentError
	if errors.As(err, &silent) {
		return code // the command has said what happened
	}
	if code == ExitInterrupted {
		env.say("%s: interrupted\n", name)
		return code
	}
	env.say("%s: error: %s\n", name, errorText(err))
	return code
}

// errorText is err for people: the service's code and message, then its field violations,
// one per line, each with its field path and rule.
func errorText(err error) string {
	rerr, ok := runtime.AsError(err)
	if !ok || len(rerr.FieldViolations) == 0 {
		return err.Error()
	}
	// The message lists the violations too; they are printed once, from the detail.
	var b strings.Builder
	headline, _, _ := strings.Cut(rerr.Message, "\n")
	if i := strings.Index(headline, rerr.FieldViolations[0].Field+":"); i >= 0 {
		headline = headline[:i] // "validation error: execution_id: must be ..."
	}
	b.WriteString(strings.TrimRight(rerr.Code.String()+": "+headline, ": "))
	for _, v := range rerr.FieldViolations {
		fmt.Fprintf(&b, "\n  %s: %s [%s]", v.Field, v.Message, v.Rule)
	}
	return b.String()
}

// usageError is a mistake in the command line or its input: ExitUsage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// ExitCode implements kong.ExitCoder.
func (e *usageError) ExitCode() int { return ExitUsage }

// usagef is a usageError.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// executionFailedError is an execution waited for that ended without succeeding; the command
// has printed it.
type executionFailedError struct{ status v1.ExecutionStatus }

func (e *executionFailedError) Error() string {
	return "the execution ended " + enumName(e.status.String())
}

// ExitCode implements kong.ExitCoder.
func (e *executionFailedError) ExitCode() int { return ExitExecutionFailed }

// unhealthyError is a service that reports itself unhealthy; health has printed why.
type unhealthyError struct{}

func (unhealthyError) Error() string { return "the service is unhealthy" }

// ExitCode implements kong.ExitCoder.
func (unhealthyError) ExitCode() int { return ExitUnavailable }

// silentError ends a command with code after it has printed what went wrong itself.
type silentError struct {
	err  error
	code int
}

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }

// ExitCode implements kong.ExitCoder.
func (e *silentError) ExitCode() int { return e.code }
