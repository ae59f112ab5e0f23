package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Input checks that protovalidate's rules cannot state, applied to every request before its
// handler runs (NewInputInterceptor) and to the JSON text fields by their handlers:
//
//   - no string anywhere in a request (field, map key, Struct key or value) holds a NUL
//     character: PostgreSQL's text and JSONB cannot store U+0000, and no name needs one;
//   - JSON values (Struct params, trigger_data) nest at most MaxJSONDepth objects and arrays:
//     SQLite's JSON functions stop at 1,000 levels, and no workflow needs more than a few.
//
// Each failure is an errdefs.ValidationError naming the field, so the caller gets
// invalid_argument instead of the storage's internal error.

// MaxJSONDepth is the deepest nesting of objects and arrays accepted in a JSON value of a
// request (a node's params, trigger_data); the value itself is level 1.
const MaxJSONDepth = 64

// maxInputViolations caps the violations one request reports.
const maxInputViolations = 20

// checkInput returns the NUL and depth violations of m, or nil.
func checkInput(m proto.Message) *errdefs.ValidationError {
	v := &errdefs.ValidationError{}
	checkMessage(v, "", m.ProtoReflect())
	if len(v.Violations) == 0 {
		return nil
	}
	return v
}

func checkMessage(v *errdefs.ValidationError, path string, m protoreflect.Message) {
	switch s := m.Interface().(type) {
	case *structpb.Struct:
		checkStruct(v, path, s, 1)
		return
	case *structpb.Value:
		checkValue(v, path, s, 1)
		return
	case *structpb.ListValue:
		checkValue(v, path, structpb.NewListValue(s), 1)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		p := string(fd.Name())
		if path != "" {
			p = path + "." + p
		}
		switch {
		case fd.IsList():
			l := val.List()
			for i := range l.Len() {
				checkField(v, fmt.Sprintf("%s[%d]", p, i), fd, l.Get(i))
			}
		case fd.IsMap():
			val.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if ks, ok := k.Interface().(string); ok && strings.IndexByte(ks, 0) >= 0 {
					addNUL(v, p)
				}
				checkField(v, p, fd.MapValue(), mv)
				return len(v.Violations) < maxInputViolations
			})
		default:
			checkField(v, p, fd, val)
		}
		return len(v.Violations) < maxInputViolations
	})
}

func checkField(v *errdefs.ValidationError, path string, fd protoreflect.FieldDescriptor, val protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if strings.IndexByte(val.String(), 0) >= 0 {
			addNUL(v, path)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		checkMessage(v, path, val.Message())
	default:
	}
}

func addNUL(v *errdefs.ValidationError, path string) {
	if len(v.Violations) < maxInputViolations {
		v.Add(path, "string.no_nul", "must not contain a NUL character (U+0000)")
	}
}

// checkStruct checks a Struct at nesting level depth; violations name path, the request field
// that holds the whole JSON value.
func checkStruct(v *errdefs.ValidationError, path string, s *structpb.Struct, depth int) bool {
	if depth > MaxJSONDepth {
		v.Add(path, "json.max_depth", "nests objects and arrays more than %d levels deep", MaxJSONDepth)
		return false
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.GetFields() {
			if !yield(k) {
				return
			}
		}
	}) {
		if strings.IndexByte(k, 0) >= 0 {
			addNUL(v, path)
			return false
		}
		if !checkValue(v, path, s.GetFields()[k], depth) {
			return false
		}
	}
	return true
}

// checkValue checks one JSON value found at nesting level depth (its container's); it returns
// false after the first violation, which is enough to say what is wrong with the field.
func checkValue(v *errdefs.ValidationError, path string, val *structpb.Value, depth int) bool {
	switch k := val.GetKind().(type) {
	case *structpb.Value_StringValue:
		if strings.IndexByte(k.StringValue, 0) >= 0 {
			addNUL(v, path)
			return false
		}
	case *structpb.Value_StructValue:
		return checkStruct(v, path, k.StructValue, depth+1)
	case *structpb.Value_ListValue:
		if depth+1 > MaxJSONDepth {
			v.Add(path, "json.max_depth", "nests objects and arrays more than %d levels deep", MaxJSONDepth)
			return false
		}
		for _, e := range k.ListValue.GetValues() {
			if !checkValue(v, path, e, depth+1) {
				return false
			}
		}
	}
	return true
}

// checkJSONText checks a JSON document given as text (trigger_data): it parses, nests at most
// MaxJSONDepth levels and holds no NUL character in a key or string (a "\u0000" escape
// included). An empty text is fine (no document).
func checkJSONText(field string, text string) *errdefs.ValidationError {
	if text == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errdefs.Invalid(field, "string.json", "must be a JSON document: %v", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
				if depth > MaxJSONDepth {
					return errdefs.Invalid(field, "json.max_depth", "nests objects and arrays more than %d levels deep", MaxJSONDepth)
				}
			} else {
				depth--
			}
		case string:
			if strings.IndexByte(t, 0) >= 0 {
				return errdefs.Invalid(field, "string.no_nul", "must not contain a NUL character (U+0000)")
			}
		}
	}
	if !json.Valid([]byte(text)) { // one document, not several
		return errdefs.Invalid(field, "string.json", "must be a JSON document")
	}
	return nil
}

// NewInputInterceptor returns the Connect interceptor that refuses requests failing checkInput
// with invalid_argument and a buf.validate.Violations detail, before the handler runs.
func NewInputInterceptor() connect.Interceptor { return inputInterceptor{} }

type inputInterceptor struct{}

func (inputInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if m, ok := req.Any().(proto.Message); ok && !req.Spec().IsClient {
			if ve := checkInput(m); ve != nil {
				return nil, validationError(ve)
			}
		}
		return next(ctx, req)
	}
}

func (inputInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (inputInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, inputConn{conn})
	}
}

type inputConn struct{ connect.StreamingHandlerConn }

func (c inputConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	if m, ok := msg.(proto.Message); ok {
		if ve := checkInput(m); ve != nil {
			return validationError(ve)
		}
	}
	return nil
}

// loadHorizon bounds GetLoadDistribution's start_time: fire times are Unix nanoseconds in the
// scheduler (internal/cron), which end in April 2262.
var (
	loadEarliest = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	loadHorizon  = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)
