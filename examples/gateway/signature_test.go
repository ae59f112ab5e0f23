package main

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/matryer/is"
)

// TestSignVector: sign computes what the runtime's signature package and the README's openssl
// command do:
//
//	printf '%s' 'evt_1.1800000000.{"order":42}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef' -r
func TestSignVector(t *testing.T) {
	t.Parallel()
	got := sign([]byte("whsec-0123456789abcdef"), "evt_1", 1_800_000_000, []byte(`{"order":42}`))
	is.New(t).Equal(got, "v1=26909d2e30b36a937cf9730cb1e21dee8e1a336dc2db0c1b7a03416fd6075318")
}

func TestVerify(t *testing.T) {
	t.Parallel()
	key, body := []byte("whsec-0123456789abcdef"), []byte(`{"order":42}`)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := sign(key, "evt_1", now.Unix(), body)
	old := sign([]byte("whsec-the-old-secret-000"), "evt_1", now.Unix(), body)
	at := func(d time.Duration) (string, string) {
		t := now.Add(d).Unix()
		return strconv.FormatInt(t, 10), sign(key, "evt_1", t, body)
	}
	edgeTS, edgeSig := at(-5 * time.Minute)
	pastTS, pastSig := at(-5*time.Minute - time.Second)
	aheadTS, aheadSig := at(5*time.Minute + time.Second)
	for _, tc := range []struct {
		name        string
		id, ts, sig string
		body        []byte
		want        error
	}{
		{"signed now", "evt_1", ts, good, body, nil},
		{"signed at the edge of the tolerance", "evt_1", edgeTS, edgeSig, body, nil},
		{"one of several (rotation)", "evt_1", ts, old + ", " + good, body, nil},
		{"separated by a space", "evt_1", ts, old + " " + good, body, nil},
		{"unknown schemes ignored", "evt_1", ts, "v0=abc,x," + good, body, nil},
		{"wrong secret", "evt_1", ts, old, body, errMismatch},
		{"id changed (a replay under a new id)", "evt_2", ts, good, body, errMismatch},
		{"timestamp changed", "evt_1", strconv.FormatInt(now.Unix()+1, 10), good, body, errMismatch},
		{"body changed", "evt_1", ts, good, []byte(`{"order":43}`), errMismatch},
		{"past the tolerance", "evt_1", pastTS, pastSig, body, errStale},
		{"ahead of the tolerance", "evt_1", aheadTS, aheadSig, body, errStale},
		{"huge timestamp", "evt_1", "9223372036854775807", good, body, errStale},
		{"no id", "", ts, good, body, errNoID},
		{"no timestamp", "evt_1", "", good, body, errTimestamp},
		{"timestamp not a number", "evt_1", "soon", good, body, errTimestamp},
		{"signed timestamp", "evt_1", "+" + ts, good, body, errTimestamp},
		{"empty", "evt_1", ts, "", body, errNoSignature},
		{"other scheme only", "evt_1", ts, "v0=" + good[len("v1="):], body, errNoSignature},
		{"v1 not hex", "evt_1", ts, "v1=zz", body, errMismatch},
		{"truncated", "evt_1", ts, good[:len(good)-2], body, errMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := verify(key, tc.id, tc.ts, tc.sig, tc.body, now, 5*time.Minute)
			if tc.want == nil {
				is.New(t).NoErr(err)
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
