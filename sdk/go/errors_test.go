package runtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// withDetails returns a connect error with details, as a client receives it.
func withDetails(t *testing.T, code connect.Code, msg string, details ...proto.Message) *connect.Error {
	t.Helper()
	cerr := connect.NewError(code, errors.New(msg))
	for _, d := range details {
		detail, err := connect.NewErrorDetail(d)
		if err != nil {
			t.Fatal(err)
		}
		cerr.AddDetail(detail)
	}
	return cerr
}

func element(name string) *validate.FieldPathElement {
	return validate.FieldPathElement_builder{FieldName: proto.String(name)}.Build()
}

// TestAsErrorViolations: the buf.validate.Violations detail (what the service sends with
// invalid_argument) becomes FieldViolations, each path rendered as protovalidate prints it.
func TestAsErrorViolations(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	nodes := validate.FieldPathElement_builder{FieldName: proto.String("nodes"), Index: proto.Uint64(1)}.Build()
	labels := validate.FieldPathElement_builder{FieldName: proto.String("labels"), StringKey: proto.String("team")}.Build()
	flags := validate.FieldPathElement_builder{FieldName: proto.String("flags"), BoolKey: proto.Bool(true)}.Build()
	byInt := validate.FieldPathElement_builder{FieldName: proto.String("by_int"), IntKey: proto.Int64(-3)}.Build()
	byUint := validate.FieldPathElement_builder{FieldName: proto.String("by_uint"), UintKey: proto.Uint64(7)}.Build()
	violations := validate.Violations_builder{Violations: []*validate.Violation{
		validate.Violation_builder{
			Field:   validate.FieldPath_builder{Elements: []*validate.FieldPathElement{element("definition"), nodes, element("depends_on")}}.Build(),
			RuleId:  proto.String("nodes.acyclic"),
			Message: proto.String("the graph has a cycle: a -> b -> a"),
		}.Build(),
		validate.Violation_builder{
			Field:   validate.FieldPath_builder{Elements: []*validate.FieldPathElement{labels, flags, byInt, byUint}}.Build(),
			RuleId:  proto.String("string.max_len"),
			Message: proto.String("too long"),
		}.Build(),
		validate.Violation_builder{RuleId: proto.String("time_range.ordered"), Message: proto.String("end_time must be after start_time")}.Build(),
	}}.Build()
	cerr := withDetails(t, connect.CodeInvalidArgument, "validation error", violations)

	rerr, ok := AsError(fmt.Errorf("deploy: %w", cerr))
	is.True(ok)
	is.Equal(rerr.Code, connect.CodeInvalidArgument)
	is.Equal(rerr.Message, "validation error")
	is.Equal(rerr.FieldViolations, []FieldViolation{
		{Field: "definition.nodes[1].depends_on", Rule: "nodes.acyclic", Message: "the graph has a cycle: a -> b -> a"},
		{Field: `labels["team"].flags[true].by_int[-3].by_uint[7]`, Rule: "string.max_len", Message: "too long"},
		{Field: "", Rule: "time_range.ordered", Message: "end_time must be after start_time"}, // a message-level rule names no field
	})
	is.Equal(rerr.Error(), "invalid_argument: validation error")
	is.Equal(connect.CodeOf(rerr), connect.CodeInvalidArgument) // the connect error stays reachable
	var back *connect.Error
	is.True(errors.As(rerr, &back))
}

// TestAsErrorBadRequestAndRetryInfo: google.rpc.BadRequest field violations and a RetryInfo
// delay are decoded too.
func TestAsErrorBadRequestAndRetryInfo(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cerr := withDetails(t, connect.CodeResourceExhausted, "slow down",
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "trigger_data", Description: "too large", Reason: "max_bytes"},
		}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)},
		&errdetails.DebugInfo{Detail: "a detail of another type is ignored"},
	)
	rerr, ok := AsError(cerr)
	is.True(ok)
	is.Equal(rerr.FieldViolations, []FieldViolation{{Field: "trigger_data", Rule: "max_bytes", Message: "too large"}})
	is.Equal(rerr.RetryDelay, 1500*time.Millisecond)
}

func TestAsErrorOthers(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	_, ok := AsError(nil)
	is.True(!ok) // nil is no error
	_, ok = AsError(errors.New("plain"))
	is.True(!ok) // neither *Error nor *connect.Error

	mine := &Error{Code: connect.CodeNotFound, Message: "no such execution"}
	got, ok := AsError(fmt.Errorf("wait: %w", mine))
	is.True(ok)
	is.True(got == mine) // an *Error in the chain is returned as it is

	plain := errors.New("something odd")
	conv := toError(plain)
	rerr, ok := AsError(conv)
	is.True(ok)
	is.Equal(rerr.Code, connect.CodeUnknown)
	is.Equal(rerr.Error(), "unknown: something odd")
	is.True(errors.Is(conv, plain))
	is.Equal(toError(nil), nil)
	is.Equal((&Error{Code: connect.CodeUnavailable}).Error(), "unavailable")
}

func TestContextError(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := contextError(ctx)
	is.Equal(err.Code(), connect.CodeCanceled)
	is.True(errors.Is(err, context.Canceled))

	ctx, cancel = context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancel()
	err = contextError(ctx)
	is.Equal(err.Code(), connect.CodeDeadlineExceeded)
	is.True(errors.Is(err, context.DeadlineExceeded))
}
