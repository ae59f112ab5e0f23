package signature_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/webhook/signature"
)

var (
	secret = []byte("whsec-0123456789abcdef")
	now    = time.Unix(1_800_000_000, 0)
)

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"order":42}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := signature.Sign(secret, "evt_1", now.Unix(), body)
	for _, tc := range []struct {
		name                string
		id, ts, sig         string
		body                []byte
		secret              []byte
		want                error
		nowOffset, tolerate time.Duration
	}{
		{name: "right", id: "evt_1", ts: ts, sig: good, body: body, secret: secret},
		{name: "rotation list", id: "evt_1", ts: ts, sig: "v1=00ff, " + good, body: body, secret: secret},
		{name: "unknown scheme beside", id: "evt_1", ts: ts, sig: "v0=abc," + good, body: body, secret: secret},
		{name: "edge of tolerance", id: "evt_1", ts: ts, sig: good, body: body, secret: secret, nowOffset: 5 * time.Minute},
		{name: "future edge", id: "evt_1", ts: ts, sig: good, body: body, secret: secret, nowOffset: -5 * time.Minute},
		{name: "wrong secret", id: "evt_1", ts: ts, sig: good, body: body, secret: []byte("another-secret-0123"), want: signature.ErrMismatch},
		{name: "body changed", id: "evt_1", ts: ts, sig: good, body: []byte(`{"order":43}`), secret: secret, want: signature.ErrMismatch},
		{name: "id changed", id: "evt_2", ts: ts, sig: good, body: body, secret: secret, want: signature.ErrMismatch},
		{name: "timestamp changed", id: "evt_1", ts: strconv.FormatInt(now.Unix()+1, 10), sig: good, body: body, secret: secret, want: signature.ErrMismatch},
		{name: "stale", id: "evt_1", ts: ts, sig: good, body: body, secret: secret, nowOffset: 5*time.Minute + time.Second, want: signature.ErrStale},
		{name: "from the future", id: "evt_1", ts: ts, sig: good, body: body, secret: secret, nowOffset: -6 * time.Minute, want: signature.ErrStale},
		{name: "own tolerance", id: "evt_1", ts: ts, sig: good, body: body, secret: secret, nowOffset: 2 * time.Minute, tolerate: time.Minute, want: signature.ErrStale},
		{name: "no signature", id: "evt_1", ts: ts, sig: "", body: body, secret: secret, want: signature.ErrNoSignature},
		{name: "other scheme only", id: "evt_1", ts: ts, sig: "v0=" + good[3:], body: body, secret: secret, want: signature.ErrNoSignature},
		{name: "not hex", id: "evt_1", ts: ts, sig: "v1=zz", body: body, secret: secret, want: signature.ErrMismatch},
		{name: "truncated", id: "evt_1", ts: ts, sig: good[:len(good)-2], body: body, secret: secret, want: signature.ErrMismatch},
		{name: "no timestamp", id: "evt_1", ts: "", sig: good, body: body, secret: secret, want: signature.ErrTimestamp},
		{name: "timestamp not a number", id: "evt_1", ts: "1e9", sig: good, body: body, secret: secret, want: signature.ErrTimestamp},
		{name: "signed timestamp", id: "evt_1", ts: "+" + ts, sig: good, body: body, secret: secret, want: signature.ErrTimestamp},
		{name: "no id", id: "", ts: ts, sig: good, body: body, secret: secret, want: signature.ErrNoID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			err := signature.Verify(tc.secret, tc.id, tc.ts, tc.sig, tc.body, now.Add(tc.nowOffset), tc.tolerate)
			if tc.want == nil {
				is.NoErr(err)
				return
			}
			is.True(errors.Is(err, tc.want)) // the expected refusal
		})
	}
}

// TestSignKnownAnswer pins the signed content: a gateway that copies this package, or a shell
// with openssl (docs/api.md), must produce the same value.
func TestSignKnownAnswer(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// printf '%s' 'evt_1.1800000000.{"order":42}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef'
	is.Equal(signature.Sign(secret, "evt_1", 1_800_000_000, []byte(`{"order":42}`)),
		"v1="+knownHex)
}

// FuzzVerify checks that Verify never panics and accepts only what Sign made: for any content,
// the signature Sign gives verifies, and any other header value verifies only if it holds that
// same signature.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("whsec-0123456789abcdef"), "evt_1", int64(1_800_000_000), []byte(`{"order":42}`), "v1=00")
	f.Add([]byte("k"), "", int64(0), []byte{}, "")
	f.Add([]byte("0123456789abcdef"), "id,with,commas", int64(-1), []byte("not json"), "v1=,v1= v0=ab")
	f.Fuzz(func(t *testing.T, key []byte, id string, ts int64, body []byte, header string) {
		at := time.Unix(ts, 0)
		stamp := strconv.FormatInt(ts, 10)
		good := signature.Sign(key, id, ts, body)
		err := signature.Verify(key, id, stamp, good, body, at, 0)
		switch {
		case id == "":
			if !errors.Is(err, signature.ErrNoID) {
				t.Fatalf("no id: got %v", err)
			}
			return
		case ts < 0:
			if !errors.Is(err, signature.ErrTimestamp) {
				t.Fatalf("negative timestamp: got %v", err)
			}
			return
		case err != nil:
			t.Fatalf("own signature refused: %v", err)
		}
		// Any header: accepted only when one of its v1 entries is the right signature.
		err = signature.Verify(key, id, stamp, header, body, at, 0)
		if err == nil && !containsField(header, good) {
			t.Fatalf("accepted %q, which lacks %q", header, good)
		}
		// A changed body is refused.
		if err := signature.Verify(key, id, stamp, good, append(body, 'x'), at, 0); !errors.Is(err, signature.ErrMismatch) {
			t.Fatalf("changed body: got %v", err)
		}
	})
}

// knownHex is openssl's answer for the known-answer test.
const knownHex = "26909d2e30b36a937cf9730cb1e21dee8e1a336dc2db0c1b7a03416fd6075318"

// containsField reports whether a Webhook-Signature value lists want (hex is read in any case).
func containsField(header, want string) bool {
	for _, f := range strings.FieldsFunc(header, func(r rune) bool { return r == ',' || r == ' ' }) {
		if strings.EqualFold(f, want) {
			return true
		}
	}
	return false
}
