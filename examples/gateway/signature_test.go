package main

import (
	"testing"
	"time"

	"github.com/matryer/is"
)

// TestSignVector: sign computes what the README's openssl command does:
//
//	printf '%s' '1700000000.{"order":42}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef' -r
func TestSignVector(t *testing.T) {
	t.Parallel()
	got := sign([]byte("whsec-0123456789abcdef"), []byte(`{"order":42}`), time.Unix(1700000000, 0))
	is.New(t).Equal(got, "t=1700000000,v1=400b3f12522b8d68e4035a8fd16d344499c6c3e2b9852b8dfbf320224dd0c6f3")
}

func TestVerify(t *testing.T) {
	t.Parallel()
	secret, body := []byte("whsec-0123456789abcdef"), []byte(`{"order":42}`)
	now := time.Unix(1700000000, 0)
	good := sign(secret, body, now)
	other := sign([]byte("whsec-the-old-secret-000"), body, now)
	for _, tc := range []struct {
		name   string
		header string
		want   error
	}{
		{"signed now", good, nil},
		{"signed at the edge of the tolerance", sign(secret, body, now.Add(-5*time.Minute)), nil},
		{"with spaces", "t=1700000000, v1=400b3f12522b8d68e4035a8fd16d344499c6c3e2b9852b8dfbf320224dd0c6f3", nil},
		{"one of several v1 (rotation)", other + "," + good[len("t=1700000000,"):], nil},
		{"unknown schemes ignored", good + ",v0=abc,x", nil},
		{"wrong secret", other, errMismatch},
		{"past the tolerance", sign(secret, body, now.Add(-5*time.Minute-time.Second)), errStale},
		{"ahead of the tolerance", sign(secret, body, now.Add(5*time.Minute+time.Second)), errStale},
		{"stale and wrong", sign([]byte("x"), body, now.Add(-time.Hour)), errStale},
		{"empty", "", errNoSignature},
		{"no timestamp", good[len("t=1700000000,"):], errNoSignature},
		{"timestamp not a number", "t=soon," + good[len("t=1700000000,"):], errNoSignature},
		{"no v1", "t=1700000000", errNoSignature},
		{"v1 not hex", "t=1700000000,v1=zz", errNoSignature},
		{"truncated v1", good[:len(good)-2], errMismatch},
		{"huge timestamp", "t=9223372036854775807," + good[len("t=1700000000,"):], errStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is.New(t).Equal(verify(tc.header, body, secret, now, 5*time.Minute), tc.want)
		})
	}
}
