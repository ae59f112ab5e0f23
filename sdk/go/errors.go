package runtime

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Error is the error of every Client method: the status code, the server's message and what
// its error details say, decoded. The *connect.Error it was made from stays reachable with
// errors.As (and connect.CodeOf works on it), as does the context error of a call that was
// cancelled or ran out of time.
//
//	if rerr, ok := runtime.AsError(err); ok && rerr.Code == connect.CodeInvalidArgument {
//		for _, v := range rerr.FieldViolations {
//			fmt.Printf("%s: %s [%s]\n", v.Field, v.Message, v.Rule)
//		}
//	}
type Error struct {
	// Code is the status code: invalid_argument, not_found, already_exists,
	// failed_precondition, resource_exhausted, unavailable, unauthenticated, ...
	Code connect.Code
	// Message is the server's message, without the code.
	Message string
	// FieldViolations lists the fields of the request that broke a rule (invalid_argument),
	// from a buf.validate.Violations detail (what the service sends: protovalidate's rules
	// and the checks made in Go alike) or a google.rpc.BadRequest detail. Empty otherwise.
	FieldViolations []FieldViolation
	// RetryDelay is how long the server asked the caller to wait before trying again (a
	// google.rpc.RetryInfo detail, sent with resource_exhausted by the trigger rate limit,
	// or a webhook answer's Retry-After). 0 when it said nothing.
	RetryDelay time.Duration

	cause error
}

// FieldViolation is one broken rule of one request field.
type FieldViolation struct {
	// Field is the path of the field in the request, e.g. "definition.nodes[1].depends_on",
	// or "definition.nodes" for a rule on the whole list.
	Field string
	// Rule is the rule's id, e.g. "string.pattern", "nodes.acyclic", "required".
	Rule string
	// Message says what is wrong, for people.
	Message string
}

// Error formats the error as connect does: "code: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Unwrap returns the error this one was made from: a *connect.Error for an RPC.
func (e *Error) Unwrap() error { return e.cause }

// AsError returns err as an *Error: the one in err's chain, or one decoded from the
// *connect.Error in err's chain (an error of the generated client, Client.Raw). It returns
// false for nil and for errors that are neither.
func AsError(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	var rerr *Error
	if errors.As(err, &rerr) {
		return rerr, true
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return nil, false
	}
	rerr = &Error{Code: cerr.Code(), Message: cerr.Message(), cause: err}
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue // a detail of a type this client does not know
		}
		switch v := v.(type) {
		case *validate.Violations:
			for _, vi := range v.GetViolations() {
				rerr.FieldViolations = append(rerr.FieldViolations, FieldViolation{
					Field:   fieldPath(vi.GetField()),
					Rule:    vi.GetRuleId(),
					Message: vi.GetMessage(),
				})
			}
		case *errdetails.BadRequest:
			for _, fv := range v.GetFieldViolations() {
				rerr.FieldViolations = append(rerr.FieldViolations, FieldViolation{
					Field:   fv.GetField(),
					Rule:    fv.GetReason(),
					Message: fv.GetDescription(),
				})
			}
		case *errdetails.RetryInfo:
			if d := v.GetRetryDelay(); d != nil {
				rerr.RetryDelay = d.AsDuration()
			}
		}
	}
	return rerr, true
}

// toError makes every error a Client method returns an *Error: connect errors are decoded;
// anything else (which the generated client does not return) keeps its text under the code
// connect.CodeOf gives it.
func toError(err error) error {
	if err == nil {
		return nil
	}
	if rerr, ok := AsError(err); ok {
		return rerr
	}
	return &Error{Code: connect.CodeOf(err), Message: err.Error(), cause: err}
}

// contextError is the error of a call that ended because ctx did, as connect reports it:
// canceled or deadline_exceeded, wrapping the context's cause.
func contextError(ctx context.Context) *connect.Error {
	code := connect.CodeCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = connect.CodeDeadlineExceeded
	}
	return connect.NewError(code, context.Cause(ctx))
}

// fieldPath renders a buf.validate.FieldPath the way protovalidate prints it:
// nodes[1].depends_on, labels["team"].
func fieldPath(p *validate.FieldPath) string {
	var b strings.Builder
	for i, el := range p.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(el.GetFieldName())
		switch s := el.GetSubscript().(type) {
		case *validate.FieldPathElement_Index:
			b.WriteString("[" + strconv.FormatUint(s.Index, 10) + "]")
		case *validate.FieldPathElement_BoolKey:
			b.WriteString("[" + strconv.FormatBool(s.BoolKey) + "]")
		case *validate.FieldPathElement_IntKey:
			b.WriteString("[" + strconv.FormatInt(s.IntKey, 10) + "]")
		case *validate.FieldPathElement_UintKey:
			b.WriteString("[" + strconv.FormatUint(s.UintKey, 10) + "]")
		case *validate.FieldPathElement_StringKey:
			b.WriteString("[" + strconv.Quote(s.StringKey) + "]")
		}
	}
	return b.String()
}
