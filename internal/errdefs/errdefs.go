// Package errdefs holds the error vocabulary shared by the domain packages and their adapters.
// Storage adapters translate driver errors into these sentinels once; the Connect handlers map
// them to status codes once (internal/api/errors.go). Everything else is an internal error. It sits
// below every domain package and imports none of the tree.
package errdefs

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels. Wrap them with what was being done: fmt.Errorf("get deployment %s: %w", id, ErrNotFound).
var (
	// ErrNotFound: the named thing does not exist. Maps to connect.CodeNotFound.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique key is taken (webhook path, ...). Maps to connect.CodeAlreadyExists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a concurrent writer won; the operation may be retried. Maps to connect.CodeAborted.
	ErrConflict = errors.New("conflict")
	// ErrFailedPrecondition: the thing is in a state that does not allow the operation (resume an
	// archived deployment). Maps to connect.CodeFailedPrecondition.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable: a dependency does not answer. Maps to connect.CodeUnavailable.
	ErrUnavailable = errors.New("unavailable")
)

// Violation is one invalid field found by Go-side validation (what protovalidate's CEL cannot
// check). It has the shape of a buf.validate.Violation so callers see one format.
type Violation struct {
	// Field is the path from the request root, e.g. "definition.nodes[2].type".
	Field string
	// Rule is a stable id, e.g. "dag.acyclic", "cron.parse", "timezone.iana".
	Rule string
	// Message says what is wrong.
	Message string
}

// ValidationError carries one or more violations. Maps to connect.CodeInvalidArgument.
type ValidationError struct {
	Violations []Violation
}

// Invalid returns a ValidationError with one violation.
func Invalid(field, rule, format string, args ...any) *ValidationError {
	return &ValidationError{Violations: []Violation{{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)}}}
}

// Add appends a violation.
func (e *ValidationError) Add(field, rule, format string, args ...any) {
	e.Violations = append(e.Violations, Violation{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// OrNil returns e when it holds violations, otherwise nil (typed nil would not compare to nil).
func (e *ValidationError) OrNil() error {
	if e == nil || len(e.Violations) == 0 {
		return nil
	}
	return e
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("validation error:")
	for _, v := range e.Violations {
		fmt.Fprintf(&b, "\n - %s: %s [%s]", v.Field, v.Message, v.Rule)
	}
	return b.String()
}
