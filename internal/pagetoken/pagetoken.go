// Package pagetoken makes and reads the opaque page tokens of every List RPC. A token is
//
//	base64url( version byte | JSON of the position | HMAC-SHA256[:16] )
//
// where the MAC is taken under the server's key over the token's kind (which list it pages),
// the binding (the canonical form of the filters it was issued for) and the version and payload.
// So a token cannot be forged or altered without the key, cannot be replayed on another list
// and cannot be replayed with other filters: any of those is an errdefs.ValidationError on
// page_token (invalid_argument), never a query with a position the server did not hand out.
//
// The key comes from WFR_PAGE_TOKEN_KEY. Left unset, it is derived from the database URL, which
// every replica of one installation shares, so a token issued by one api replica reads on
// another; set WFR_PAGE_TOKEN_KEY (any long random string) where the database URL is not a
// secret. Changing the key invalidates the tokens in flight: clients start again from page one.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// version is the first byte of every token; a change of layout takes a new one.
const version = 2

// macLen is the bytes of HMAC-SHA256 kept (128 bits).
const macLen = 16

// maxTokenLen bounds the token text read; every token the server makes is far shorter.
const maxTokenLen = 4096

// Codec signs and checks page tokens under one key. It is immutable and safe for concurrent use.
type Codec struct {
	key []byte
}

// New returns a Codec with key. An empty key is the development key DeriveKey(""): fine for
// tests and one-process installs, not a secret.
func New(key []byte) *Codec {
	if len(key) == 0 {
		key = DeriveKey("")
	}
	return &Codec{key: append([]byte(nil), key...)}
}

// DeriveKey turns a secret of any length (WFR_PAGE_TOKEN_KEY, or the database URL when that is
// unset) into a 32-byte MAC key.
func DeriveKey(secret string) []byte {
	mac := hmac.New(sha256.New, []byte("workflow-runtime page token key v2"))
	mac.Write([]byte(secret))
	return mac.Sum(nil)
}

// Encode returns the token carrying payload (JSON-encoded) for the list kind and filter binding.
func (c *Codec) Encode(kind string, binding []byte, payload any) (string, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("encode %s page token: %w", kind, err)
	}
	b := make([]byte, 0, 1+len(body)+macLen)
	b = append(b, version)
	b = append(b, body...)
	b = append(b, c.mac(kind, binding, b)...)
	token := base64.RawURLEncoding.EncodeToString(b)
	if len(token) > maxTokenLen {
		return "", fmt.Errorf("encode %s page token: %d bytes, more than Decode reads (%d)", kind, len(token), maxTokenLen)
	}
	return token, nil
}

// Decode checks token against kind and binding and reads its payload into out. Any failure is
// an errdefs.ValidationError on page_token whose message does not say which check failed.
func (c *Codec) Decode(token, kind string, binding []byte, out any) error {
	if len(token) > maxTokenLen {
		return Invalid()
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 1+macLen || b[0] != version {
		return Invalid()
	}
	signed, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, c.mac(kind, binding, signed)) {
		return Invalid()
	}
	if err := json.Unmarshal(signed[1:], out); err != nil {
		return Invalid()
	}
	return nil
}

// Invalid is the error of a token that does not read: an errdefs.ValidationError on page_token.
func Invalid() error {
	return errdefs.Invalid("page_token", "page_token.valid",
		"page_token was not returned by this list for these filters (or has been altered); start again without it")
}

func (c *Codec) mac(kind string, binding, signed []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	// Lengths first, so that no (kind, binding) pair can be read as another.
	_, _ = fmt.Fprintf(m, "%d:%s%d:", len(kind), kind, len(binding))
	m.Write(binding)
	m.Write(signed)
	return m.Sum(nil)[:macLen]
}
