package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// WithJSONCodec is a handler option that replaces Connect's JSON codec with jsonCodec, under
// both names Connect registers its own.
func WithJSONCodec() connect.HandlerOption {
	return connect.WithHandlerOptions(
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
	)
}

// jsonCodec is Connect's protojson codec with one difference. Connect reads JSON with
// DiscardUnknown, so that a newer client's fields do not break an older server; protojson then
// also drops an enum name it does not know, and `"statuses": ["NOPE"]` became "no filter",
// listing everything. Here such a name is read as an undefined enum number instead, exactly
// what the binary encoding gives for an unknown value, so protovalidate's enum.defined_only
// refuses it as invalid_argument on its field. Unknown fields are still ignored.
type jsonCodec struct{ name string }

// unknownEnumNumber stands for an enum name the schema does not define; no enum of the API
// uses it.
const unknownEnumNumber = math.MaxInt32

func (c jsonCodec) Name() string { return c.name }

func (c jsonCodec) Marshal(msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a proto.Message", msg)
	}
	return protojson.MarshalOptions{}.Marshal(m)
}

func (c jsonCodec) MarshalAppend(dst []byte, msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a proto.Message", msg)
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

// MarshalStable is Marshal compacted, as Connect's own codec does it (protojson varies its
// whitespace).
func (c jsonCodec) MarshalStable(msg any) ([]byte, error) {
	b, err := c.Marshal(msg)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (c jsonCodec) IsBinary() bool { return false }

func (c jsonCodec) Unmarshal(data []byte, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a proto.Message", msg)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	// The common case: the message reads strictly, nothing unknown in it.
	if protojson.Unmarshal(data, m) == nil {
		return nil
	}
	proto.Reset(m)
	if utf8.Valid(data) {
		if fixed, ok := markUnknownEnums(data, m.ProtoReflect().Descriptor()); ok {
			data = fixed
		}
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, m)
}

// markUnknownEnums rewrites every enum name of data that md's schema does not define as
// unknownEnumNumber. It reports false when nothing changed (or data is not a JSON object).
func markUnknownEnums(data []byte, md protoreflect.MessageDescriptor) ([]byte, bool) {
	var doc any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if !markMessage(doc, md, 0) {
		return nil, false
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, false
	}
	return out, true
}

// markMessage walks a JSON object as message md; depth bounds the walk (protojson's own
// recursion limit refuses deeper messages anyway).
func markMessage(doc any, md protoreflect.MessageDescriptor, depth int) bool {
	obj, ok := doc.(map[string]any)
	if !ok || depth > 100 || md.FullName().Parent() == "google.protobuf" {
		return false // well-known types have JSON forms of their own and no enums to mark
	}
	changed := false
	for k, v := range obj {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByTextName(k)
		}
		if fd == nil {
			continue
		}
		switch {
		case fd.IsMap():
			if m, ok := v.(map[string]any); ok {
				for mk, mv := range m {
					if nv, c := markValue(fd.MapValue(), mv, depth); c {
						m[mk], changed = nv, true
					}
				}
			}
		case fd.IsList():
			if l, ok := v.([]any); ok {
				for i, e := range l {
					if nv, c := markValue(fd, e, depth); c {
						l[i], changed = nv, true
					}
				}
			}
		default:
			if nv, c := markValue(fd, v, depth); c {
				obj[k], changed = nv, true
			}
		}
	}
	return changed
}

func markValue(fd protoreflect.FieldDescriptor, v any, depth int) (any, bool) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		s, ok := v.(string)
		if !ok || fd.Enum().FullName() == "google.protobuf.NullValue" || fd.Enum().Values().ByName(protoreflect.Name(s)) != nil {
			return v, false
		}
		return json.Number(strconv.Itoa(unknownEnumNumber)), true
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return v, markMessage(v, fd.Message(), depth+1)
	default:
		return v, false
	}
}
