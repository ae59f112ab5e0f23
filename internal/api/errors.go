package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"syscall"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// toConnect is the one place where domain errors become Connect errors. Sentinels keep their
// message (it names the thing and what was being done). A dependency that does not answer is
// unavailable, which gateways retry: errdefs.ErrUnavailable (the store translates its own
// connection failures to it) and a connection failure that reached here untranslated (Redis,
// on the paths that need it: a refused or broken connection, an exhausted pool). Anything
// unknown becomes internal with a generic message, and the real error goes to the log.
func (h *Handler) toConnect(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ve *errdefs.ValidationError
	switch {
	case errors.As(err, &ve):
		return validationError(ve)
	case errors.Is(err, errdefs.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, errdefs.ErrFailedPrecondition):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, errdefs.ErrConflict):
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.Is(err, errdefs.ErrUnavailable), connectionFailed(err):
		// The driver's message names hosts and users: it goes to the log, not to the caller.
		h.logger.WarnContext(ctx, "dependency unavailable", slog.String("procedure", procedureOf(ctx)), slog.Any("error", err))
		return connect.NewError(connect.CodeUnavailable, errors.New("a dependency is unavailable; retry"))
	}
	h.logger.ErrorContext(ctx, "internal error", slog.String("procedure", procedureOf(ctx)), slog.Any("error", err))
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// connectionFailed reports whether err is a failed or broken network connection: what go-redis
// returns when Redis is down (a *net.OpError from the dial, a reset or closed connection, a pool
// timeout, which is a net.Error too).
func connectionFailed(err error) bool {
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// validationError answers invalid_argument with a buf.validate.Violations detail, the same shape
// the protovalidate interceptor gives, so clients read Go-side and CEL violations alike.
func validationError(ve *errdefs.ValidationError) error {
	cerr := connect.NewError(connect.CodeInvalidArgument, ve)
	vs := make([]*validate.Violation, 0, len(ve.Violations))
	for _, v := range ve.Violations {
		vs = append(vs, validate.Violation_builder{
			Field:   fieldPath(v.Field),
			RuleId:  proto.String(v.Rule),
			Message: proto.String(v.Message),
		}.Build())
	}
	if detail, err := connect.NewErrorDetail(validate.Violations_builder{Violations: vs}.Build()); err == nil {
		cerr.AddDetail(detail)
	}
	return cerr
}

var pathElement = regexp.MustCompile(`([^.\[\]]+)(?:\[(\d+)\])?`)

// fieldPath turns "definition.nodes[2].type" into a buf.validate.FieldPath.
func fieldPath(s string) *validate.FieldPath {
	var elems []*validate.FieldPathElement
	for _, m := range pathElement.FindAllStringSubmatch(s, -1) {
		b := validate.FieldPathElement_builder{FieldName: proto.String(m[1])}
		if m[2] != "" {
			i, _ := strconv.ParseUint(m[2], 10, 64)
			b.Index = proto.Uint64(i)
		}
		elems = append(elems, b.Build())
	}
	return validate.FieldPath_builder{Elements: elems}.Build()
}

func procedureOf(ctx context.Context) string {
	if ci, ok := connect.CallInfoForHandlerContext(ctx); ok {
		return ci.Spec().Procedure
	}
	return ""
}
