// Package sizerules checks a request's size caps before its full validation: the
// buf.validate rules repeated.max_items, map.max_pairs, string.max_len, string.max_bytes and
// bytes.max_len (on a field, or on each item of a repeated field), read from the field options
// of the message's descriptors, so the check follows the proto without a list of its own.
//
// Why: protovalidate evaluates every rule of every element before it answers. A 4 MiB
// DeployWorkflowRequest with 50,000 nodes breaks definition.nodes' max_items, yet protovalidate
// still matches every node's id and type against their patterns first (a few hundred
// milliseconds). Counting elements and lengths costs a walk over the message and nothing per
// byte, so a request over a cap is refused at once, with the violations protovalidate would
// report for those caps (same field path, rule path, rule id and message); the others, found only
// by the full pass, are not reported until the caps are kept.
//
// The interceptor (NewInterceptor) goes just outside connectrpc.com/validate's and answers
// invalid_argument with a buf.validate.Violations detail, as that one does.
package sizerules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Check returns a *protovalidate.ValidationError with one violation per size cap msg breaks,
// in field order; nil when it keeps them all (it may still break other rules).
func Check(msg proto.Message) error {
	var c checker
	c.message(msg.ProtoReflect(), nil)
	if len(c.violations) == 0 {
		return nil
	}
	return &protovalidate.ValidationError{Violations: c.violations}
}

// NewInterceptor checks every request's size caps (Check) before the handlers and interceptors
// inside it run; a request over a cap gets invalid_argument with the buf.validate.Violations
// detail. Streams pass through (their messages are validated by the validation interceptor).
func NewInterceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if msg, ok := req.Any().(proto.Message); ok {
				if err := Check(msg); err != nil {
					cerr := connect.NewError(connect.CodeInvalidArgument, err)
					var ve *protovalidate.ValidationError
					if errors.As(err, &ve) {
						if detail, derr := connect.NewErrorDetail(ve.ToProto()); derr == nil {
							cerr.AddDetail(detail)
						}
					}
					return nil, cerr
				}
			}
			return next(ctx, req)
		}
	}
}

// capRule is one cap of a field: the rule's descriptors (FieldRules.<kind>, <Kind>Rules.<cap>),
// its limit, and how it measures a value.
type capRule struct {
	kind  protoreflect.FieldDescriptor // FieldRules.repeated, .map, .string, .bytes
	cap   protoreflect.FieldDescriptor // RepeatedRules.max_items, ...
	limit uint64
}

// fieldPlan is what Check does with one field.
type fieldPlan struct {
	fd    protoreflect.FieldDescriptor
	caps  []capRule // on the field (a list's or map's size, a string's length)
	items []capRule // on each item of a repeated field (repeated.items)
	// descend: the field holds messages whose plans have something to check.
	descend bool
}

// messagePlan lists the fields of a message type that Check looks at.
type messagePlan struct {
	fields []fieldPlan
}

var plans sync.Map // protoreflect.FullName → *messagePlan

// planFor returns the plan of md, building it on first use. Types of the protobuf library
// (google.protobuf.*) carry no rules and are not entered.
func planFor(md protoreflect.MessageDescriptor) *messagePlan {
	if p, ok := plans.Load(md.FullName()); ok {
		return p.(*messagePlan)
	}
	p := buildPlan(md, map[protoreflect.FullName]bool{})
	actual, _ := plans.LoadOrStore(md.FullName(), p)
	return actual.(*messagePlan)
}

func buildPlan(md protoreflect.MessageDescriptor, visiting map[protoreflect.FullName]bool) *messagePlan {
	p := &messagePlan{}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return p
	}
	visiting[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		rules := fieldRules(fd)
		if rules.GetIgnore() == validate.Ignore_IGNORE_ALWAYS {
			continue
		}
		fp := fieldPlan{fd: fd, caps: capsOf(rules)}
		if fd.IsList() && rules.GetRepeated().HasItems() {
			fp.items = capsOf(rules.GetRepeated().GetItems())
		}
		var sub protoreflect.MessageDescriptor
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				sub = fd.MapValue().Message()
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			sub = fd.Message()
		}
		if sub != nil {
			// A recursive type is entered: its plan is built when a value of it is met.
			fp.descend = visiting[sub.FullName()] || len(buildPlan(sub, visiting).fields) > 0
		}
		if len(fp.caps) > 0 || len(fp.items) > 0 || fp.descend {
			p.fields = append(p.fields, fp)
		}
	}
	delete(visiting, md.FullName())
	return p
}

// fieldRules are fd's buf.validate.field options, or nil.
func fieldRules(fd protoreflect.FieldDescriptor) *validate.FieldRules {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, validate.E_Field) {
		return nil
	}
	rules, _ := proto.GetExtension(opts, validate.E_Field).(*validate.FieldRules)
	return rules
}

// capNames are the caps Check enforces, by the FieldRules field that holds them.
var capNames = map[protoreflect.Name][]protoreflect.Name{
	"repeated": {"max_items"},
	"map":      {"max_pairs"},
	"string":   {"max_len", "max_bytes"},
	"bytes":    {"max_len"},
}

// capsOf reads the caps set in rules.
func capsOf(rules *validate.FieldRules) []capRule {
	if rules == nil {
		return nil
	}
	m := rules.ProtoReflect()
	kind := m.WhichOneof(m.Descriptor().Oneofs().ByName("type"))
	if kind == nil {
		return nil
	}
	var out []capRule
	sub := m.Get(kind).Message()
	for _, name := range capNames[kind.Name()] {
		fd := sub.Descriptor().Fields().ByName(name)
		if fd != nil && sub.Has(fd) {
			out = append(out, capRule{kind: kind, cap: fd, limit: sub.Get(fd).Uint()})
		}
	}
	return out
}

type checker struct {
	violations []*protovalidate.Violation
}

// step is one element of a field path, kept as descriptors until a violation needs it written
// out: the walk allocates nothing for the fields that keep their caps.
type step struct {
	parent *step
	fd     protoreflect.FieldDescriptor
	index  int // of a list item, or -1
	key    *protoreflect.MapKey
}

// elements writes the path out, root first, as protovalidate does.
func (s *step) elements() []*validate.FieldPathElement {
	var out []*validate.FieldPathElement
	for ; s != nil; s = s.parent {
		var el *validate.FieldPathElement
		switch {
		case s.key != nil:
			el = mapElement(s.fd, *s.key)
		default:
			el = element(s.fd)
			if s.index >= 0 {
				el.SetIndex(uint64(s.index))
			}
		}
		out = append(out, el)
	}
	slices.Reverse(out)
	return out
}

// message checks m, found at path (nil: the request).
func (c *checker) message(m protoreflect.Message, path *step) {
	for _, fp := range planFor(m.Descriptor()).fields {
		fd := fp.fd
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		at := &step{parent: path, fd: fd, index: -1}
		for _, r := range fp.caps {
			c.check(r, v, fd, at, nil)
		}
		switch {
		case fd.IsList():
			if len(fp.items) > 0 || fp.descend {
				list := v.List()
				for i := range list.Len() {
					item := &step{parent: path, fd: fd, index: i}
					for _, r := range fp.items {
						c.check(r, list.Get(i), fd, item, itemsPrefix)
					}
					if fp.descend {
						c.message(list.Get(i).Message(), item)
					}
				}
			}
		case fd.IsMap():
			if fp.descend {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					c.message(mv.Message(), &step{parent: path, fd: fd, index: -1, key: &k})
					return true
				})
			}
		case fp.descend:
			c.message(v.Message(), at)
		}
	}
}

// check adds a violation when v breaks r. prefix is the rule path before r's own elements
// (repeated.items for a cap on each item).
func (c *checker) check(r capRule, v protoreflect.Value, fd protoreflect.FieldDescriptor, path *step, prefix []*validate.FieldPathElement) {
	var size uint64
	var msg string
	switch r.kind.Name() + "." + r.cap.Name() {
	case "repeated.max_items":
		size, msg = uint64(v.List().Len()), "must contain no more than %d item(s)"
	case "map.max_pairs":
		size, msg = uint64(v.Map().Len()), "map must be at most %d entries"
	case "string.max_len":
		size, msg = uint64(utf8.RuneCountInString(v.String())), "must be at most %d characters"
	case "string.max_bytes":
		size, msg = uint64(len(v.String())), "must be at most %d bytes"
	case "bytes.max_len":
		size, msg = uint64(len(v.Bytes())), "must be at most %d bytes"
	default:
		return
	}
	if size <= r.limit {
		return
	}
	rule := append(append([]*validate.FieldPathElement{}, prefix...), element(r.kind), element(r.cap))
	c.violations = append(c.violations, &protovalidate.Violation{
		Proto: validate.Violation_builder{
			Field:   validate.FieldPath_builder{Elements: path.elements()}.Build(),
			Rule:    validate.FieldPath_builder{Elements: rule}.Build(),
			RuleId:  proto.String(string(r.kind.Name() + "." + r.cap.Name())),
			Message: proto.String(fmt.Sprintf(msg, r.limit)),
		}.Build(),
		FieldValue:      v,
		FieldDescriptor: fd,
		RuleValue:       protoreflect.ValueOfUint64(r.limit),
		RuleDescriptor:  r.cap,
	})
}

// itemsPrefix is the rule path of repeated.items.
var itemsPrefix = func() []*validate.FieldPathElement {
	fr := (&validate.FieldRules{}).ProtoReflect().Descriptor()
	rr := (&validate.RepeatedRules{}).ProtoReflect().Descriptor()
	return []*validate.FieldPathElement{element(fr.Fields().ByName("repeated")), element(rr.Fields().ByName("items"))}
}()

// element is fd's field path element, as protovalidate writes it.
func element(fd protoreflect.FieldDescriptor) *validate.FieldPathElement {
	name := string(fd.Name())
	if fd.IsExtension() {
		name = fd.TextName()
	}
	return validate.FieldPathElement_builder{
		FieldNumber: proto.Int32(int32(fd.Number())),
		FieldName:   proto.String(name),
		FieldType:   descriptorpb.FieldDescriptorProto_Type(fd.Kind()).Enum(),
	}.Build()
}

// mapElement is the field path element of the entry k of map field fd.
func mapElement(fd protoreflect.FieldDescriptor, k protoreflect.MapKey) *validate.FieldPathElement {
	el := element(fd)
	el.SetKeyType(descriptorpb.FieldDescriptorProto_Type(fd.MapKey().Kind()))
	el.SetValueType(descriptorpb.FieldDescriptorProto_Type(fd.MapValue().Kind()))
	switch fd.MapKey().Kind() {
	case protoreflect.BoolKind:
		el.SetBoolKey(k.Bool())
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		el.SetUintKey(k.Uint())
	case protoreflect.StringKind:
		el.SetStringKey(k.String())
	default:
		el.SetIntKey(k.Int())
	}
	return el
}
