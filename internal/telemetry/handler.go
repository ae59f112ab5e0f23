package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Handler is the slog.Handler every logger of the service goes through, in front of the JSON
// (or text) handler that writes the lines. It
//
//   - adds trace_id and span_id (top level, W3C hex) to every record logged with a context that
//     carries a valid span: every line logged with the context of a request or an execution;
//   - masks sensitive values before anything reaches the writer: an attribute whose key is
//     sensitive (IsSensitiveKey) is replaced by "[REDACTED]", at any depth of groups; values
//     that are JSON documents (strings or byte slices starting with '{' or '['), maps, slices,
//     http.Header and structs are masked key by key at any depth (MaskJSON / MaskValue);
//     the user information of URLs (scheme://user:password@) is masked in every string and
//     error text (MaskURLCredentials).
//
// Groups (WithGroup) are applied by Handler itself, so that the trace attributes stay at the
// top level of the line.
type Handler struct {
	next slog.Handler
	goas []groupOrAttrs
}

type groupOrAttrs struct {
	group string      // WithGroup, when not empty
	attrs []slog.Attr // WithAttrs, already masked
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler wraps next (which writes the lines) with trace ids and masking.
func NewHandler(next slog.Handler) *Handler { return &Handler{next: next} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, maskAttr(a))
		return true
	})
	for i := len(h.goas) - 1; i >= 0; i-- {
		g := h.goas[i]
		if g.group == "" {
			attrs = append(slices.Clip(g.attrs), attrs...)
			continue
		}
		if len(attrs) > 0 {
			attrs = []slog.Attr{{Key: g.group, Value: slog.GroupValue(attrs...)}}
		}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		out.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	out.AddAttrs(attrs...)
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return &Handler{next: h.next, goas: append(slices.Clip(h.goas), groupOrAttrs{attrs: masked})}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{next: h.next, goas: append(slices.Clip(h.goas), groupOrAttrs{group: name})}
}

// maskAttr returns a with sensitive values masked; see Handler.
func maskAttr(a slog.Attr) slog.Attr {
	if a.Key != "" && IsSensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		group := v.Group()
		masked := make([]slog.Attr, len(group))
		for i, g := range group {
			masked[i] = maskAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	case slog.KindString:
		s := v.String()
		if looksLikeJSON([]byte(s)) {
			return slog.String(a.Key, string(MaskJSON([]byte(s))))
		}
		return slog.String(a.Key, MaskURLCredentials(s))
	case slog.KindAny:
		return slog.Any(a.Key, maskAny(v.Any()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// looksLikeJSON reports whether b is a JSON object or array.
func looksLikeJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return false
	}
	return json.Valid(b)
}

// maskAny masks a slog.KindAny value.
func maskAny(v any) any {
	switch t := v.(type) {
	case error:
		// The error's text, as the handler would write it, without URL credentials (a driver's
		// or client's error may quote its URL).
		if msg := t.Error(); strings.Contains(msg, "@") {
			return MaskURLCredentials(msg)
		}
		return v
	case nil, time.Time, time.Duration, fmt.Stringer:
		return v
	case json.RawMessage:
		if looksLikeJSON(t) {
			return jsonValue(MaskJSON(t))
		}
		return v
	case []byte:
		if looksLikeJSON(t) {
			return jsonValue(MaskJSON(t))
		}
		return v
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Pointer:
		doc, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("[unloggable %T: %v]", v, errors.Unwrap(err))
		}
		return jsonValue(MaskJSON(doc))
	}
	return v
}

// jsonValue is a masked JSON document: inline in JSON lines, as text in text lines.
type jsonValue []byte

func (j jsonValue) MarshalJSON() ([]byte, error) { return j, nil }
func (j jsonValue) String() string               { return strings.TrimSpace(string(j)) }
