package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The signature scheme of the providers this gateway serves (the one Stripe uses, under a
// header name of our own):
//
//	X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
//
// The HMAC key is the route's secret. Several v1 values may be listed (a provider that rotates
// its secret signs with the old and the new one); one matching is enough. The timestamp must
// be within the tolerance of the gateway's clock either way, so a captured delivery cannot be
// replayed later. To serve a provider with another scheme, change sign and verify.
const signatureHeader = "X-Signature"

// Why verify refused a delivery: logged, never told to the caller (who gets one 401).
var (
	errNoSignature = errors.New("no " + signatureHeader + " header with t= and v1=")
	errStale       = errors.New("timestamp outside the tolerance")
	errMismatch    = errors.New("no v1 signature matches")
)

// sign is the X-Signature value of body signed with secret at time t, as the provider
// computes it.
func sign(secret, body []byte, t time.Time) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// verify checks an X-Signature value against the raw body: a timestamp within tolerance of
// now and a v1 HMAC equal, compared in constant time, to the one computed with secret.
func verify(header string, body, secret []byte, now time.Time, tolerance time.Duration) error {
	ts, haveTS := int64(0), false
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch key {
		case "t":
			n, err := strconv.ParseInt(value, 10, 64)
			ts, haveTS = n, err == nil
		case "v1":
			if sig, err := hex.DecodeString(value); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveTS || len(sigs) == 0 {
		return errNoSignature
	}
	if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return errStale
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return errMismatch
}

// mac is the HMAC-SHA256 of "<ts>.<body>" under secret.
func mac(secret []byte, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	h.Write(body)
	return h.Sum(nil)
}
