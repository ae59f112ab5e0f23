package main

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

// The signature scheme: the runtime's own (its internal/webhook/signature package, which
// POST /hooks/{path} checks; copied here because a module of its own cannot import it), in
// the style of Standard Webhooks. A delivery carries three headers:
//
//	Webhook-Id:        the provider's delivery id, the same on every retry of one delivery
//	Webhook-Timestamp: the signing time, Unix seconds
//	Webhook-Signature: v1=<hex HMAC-SHA256 of "<id>.<timestamp>.<raw body>">
//
// The HMAC key is the route's secret. The signed content binds the id and the timestamp to
// the body, so neither can be changed without the secret: a replay inside the tolerance keeps
// its id, which is the execution's idempotency key, and the runtime answers it with the first
// execution. Webhook-Signature may list several signatures separated by commas or spaces (a
// provider rotating its secret signs with the old and the new one); one match is enough.
// Unknown schemes (not "v1=") are ignored. To serve a provider with another scheme, change
// sign and verify, and keep its delivery id covered by what is signed.
const (
	headerID        = "Webhook-Id"
	headerTimestamp = "Webhook-Timestamp"
	headerSignature = "Webhook-Signature"
)

// scheme is the prefix of a version-1 signature in Webhook-Signature.
const scheme = "v1="

// Why verify refused a delivery: logged, never told to the caller (who gets one 401, or 400
// for errNoID).
var (
	errNoID        = errors.New("no delivery id")
	errTimestamp   = errors.New("timestamp is not unix seconds")
	errStale       = errors.New("timestamp outside the tolerance")
	errNoSignature = errors.New("no v1 signature")
	errMismatch    = errors.New("signature does not match")
)

// sign is the Webhook-Signature value ("v1=<hex>") of a delivery with this id, timestamp
// (Unix seconds) and raw body under secret, as the provider computes it.
func sign(secret []byte, id string, timestamp int64, body []byte) string {
	return scheme + hex.EncodeToString(mac(secret, id, strconv.FormatInt(timestamp, 10), body))
}

// verify checks a delivery: id, timestamp and signature are the three header values as
// received, body the raw body. The id must be present, the timestamp within tolerance of now
// (either way) and one v1 signature the HMAC of the content under secret, compared in
// constant time.
func verify(secret []byte, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" {
		return errNoID
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || timestamp == "" || timestamp[0] == '+' || timestamp[0] == '-' {
		return errTimestamp
	}
	// Compare in seconds: no overflow of time.Duration for absurd timestamps.
	tol := int64(tolerance / time.Second)
	if d := now.Unix() - ts; d > tol || d < -tol {
		return fmt.Errorf("%w: %s is %ds from now (tolerance %s)", errStale, timestamp, d, tolerance)
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
		return errNoSignature
	}
	return errMismatch
}

// mac is the HMAC-SHA256 of "<id>.<timestamp>.<body>" under secret.
func mac(secret []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
