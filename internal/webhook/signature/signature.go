// Package signature signs and verifies webhook deliveries with HMAC-SHA256. It depends on the
// standard library only, so that a gateway can import it, or copy this one file, and sign or
// check exactly as the runtime does.
//
// A delivery carries three headers:
//
//	Webhook-Id:        the provider's delivery id (the same on every retry of one delivery)
//	Webhook-Timestamp: the signing time, Unix seconds
//	Webhook-Signature: v1=<hex HMAC-SHA256 of "<id>.<timestamp>.<raw body>">
//
// The signed content binds the id and the timestamp to the body, so neither can be changed
// without the secret: a replay inside the timestamp tolerance keeps its id, and the receiver
// refuses an id it has seen. Webhook-Signature may list several signatures separated by
// commas or spaces (one per secret while a secret is rotated); one match is enough. Unknown
// schemes (not "v1=") are ignored.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// DefaultTolerance is how far a delivery's timestamp may be from the receiver's clock, either
// way, when the caller gives no tolerance.
const DefaultTolerance = 5 * time.Minute

// scheme is the prefix of a version-1 signature in Webhook-Signature.
const scheme = "v1="

// Errors of Verify. Each means the delivery must be refused.
var (
	// ErrNoSignature: Webhook-Signature is empty or holds no v1 signature.
	ErrNoSignature = errors.New("no v1 signature")
	// ErrMismatch: no v1 signature matches the content and the secret.
	ErrMismatch = errors.New("signature does not match")
	// ErrTimestamp: Webhook-Timestamp is missing or not Unix seconds.
	ErrTimestamp = errors.New("timestamp is not unix seconds")
	// ErrStale: the timestamp is further from now than the tolerance.
	ErrStale = errors.New("timestamp outside the tolerance")
	// ErrNoID: Webhook-Id is empty.
	ErrNoID = errors.New("no delivery id")
)

// Sign returns the Webhook-Signature value ("v1=<hex>") of a delivery with this id, timestamp
// (Unix seconds) and raw body under secret.
func Sign(secret []byte, id string, timestamp int64, body []byte) string {
	return scheme + hex.EncodeToString(mac(secret, id, strconv.FormatInt(timestamp, 10), body))
}

// Verify checks a delivery: id, timestamp and signature are the three header values as
// received, body the raw body. The timestamp must be within tolerance of now (either way;
// tolerance <= 0 means DefaultTolerance) and one v1 signature must be the HMAC of the content
// under secret, compared in constant time. nil means the delivery is authentic and fresh;
// whether its id was seen before is the caller's to check.
func Verify(secret []byte, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" {
		return ErrNoID
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || timestamp == "" || timestamp[0] == '+' || timestamp[0] == '-' {
		return ErrTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Compare in seconds: no overflow of time.Duration for absurd timestamps.
	tol := int64(tolerance / time.Second)
	if d := now.Unix() - ts; d > tol || d < -tol {
		return fmt.Errorf("%w: %s is %ds from now (tolerance %s)", ErrStale, timestamp, d, tolerance)
	}
	want := mac(secret, id, timestamp, body)
	found := false
	for _, field := range strings.FieldsFunc(signature, func(r rune) bool { return r == ',' || r == ' ' }) {
		hexSig, ok := strings.CutPrefix(field, scheme)
		if !ok {
			continue
		}
		found = true
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return ErrNoSignature
	}
	return ErrMismatch
}

// mac is HMAC-SHA256 of "<id>.<timestamp>.<body>" under secret.
func mac(secret []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
