package telemetry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// Redacted replaces every masked value.
const Redacted = "[REDACTED]"

// redactedNotJSON replaces a document MaskJSON cannot parse: it may hold anything.
const redactedNotJSON = `"[REDACTED: not a JSON document]"`

// sensitiveKeys are matched, case-insensitively and ignoring '-', '_' and '.', as substrings of
// a key: "X-Api-Key", "db_password", "refreshToken" and "Proxy-Authorization" all match.
var sensitiveKeys = []string{
	"password", "passwd", "secret", "token", "authorization", "apikey", "accesskey",
	"privatekey", "credential", "cookie",
}

// IsSensitiveKey reports whether values under key must never be logged: key contains (case
// folded, with '-', '_' and '.' removed) password, passwd, secret, token, authorization,
// apikey, accesskey, privatekey, credential or cookie.
func IsSensitiveKey(key string) bool {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(key))
	for _, s := range sensitiveKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// urlCredentials matches the user information of a URL anywhere in a text:
// scheme://user[:password]@.
var urlCredentials = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s"'<>]+@`)

// MaskURLCredentials returns s with the user information of every URL in it
// (postgres://user:password@host, https://token@host) replaced by "[REDACTED]", whatever the key
// the text is logged under.
func MaskURLCredentials(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return urlCredentials.ReplaceAllString(s, "${1}"+Redacted+"@")
}

// MaskJSON returns doc with the value of every sensitive key (IsSensitiveKey), at any depth of
// objects and arrays, replaced by "[REDACTED]". Numbers keep their text; object keys come out
// sorted. Empty input comes back as is; input that is not a JSON document is replaced as a
// whole by a JSON string saying so, since nothing tells which part of it is secret.
func MaskJSON(doc []byte) []byte {
	if len(bytes.TrimSpace(doc)) == 0 {
		return doc
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return []byte(redactedNotJSON)
	}
	out, err := marshalNoEscape(MaskValue(v))
	if err != nil {
		return []byte(redactedNotJSON)
	}
	return out
}

// MaskValue returns a copy of v (a decoded JSON value: maps, slices, scalars; also http.Header
// and map[string]string) with the values of sensitive keys replaced at any depth, and URL
// credentials masked in every string (MaskURLCredentials).
func MaskValue(v any) any {
	switch t := v.(type) {
	case string:
		return MaskURLCredentials(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if IsSensitiveKey(k) {
				out[k] = Redacted
				continue
			}
			out[k] = MaskValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = MaskValue(x)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(t))
		for k, x := range t {
			if IsSensitiveKey(k) {
				x = Redacted
			}
			out[k] = MaskURLCredentials(x)
		}
		return out
	case http.Header:
		out := make(http.Header, len(t))
		for k, x := range t {
			if IsSensitiveKey(k) {
				out[k] = []string{Redacted}
				continue
			}
			out[k] = x
		}
		return out
	case map[string][]string:
		return map[string][]string(MaskValue(http.Header(t)).(http.Header))
	}
	return v
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
