package pagetoken_test

import (
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
)

type cursor struct {
	T int64  `json:"t"`
	I string `json:"i"`
}

func isPageTokenError(err error) bool {
	var ve *errdefs.ValidationError
	return errors.As(err, &ve) && len(ve.Violations) == 1 && ve.Violations[0].Field == "page_token"
}

func TestRoundTripAndRefusals(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := pagetoken.New(pagetoken.DeriveKey("secret"))
	tok, err := c.Encode("k", []byte("f=1"), cursor{T: 42, I: "x"})
	is.NoErr(err)

	var got cursor
	is.NoErr(c.Decode(tok, "k", []byte("f=1"), &got))
	is.Equal(got, cursor{T: 42, I: "x"}) // read back

	other := pagetoken.New(pagetoken.DeriveKey("other secret"))
	b := []byte(tok)
	b[len(b)/2] ^= 1
	for name, err := range map[string]error{
		"other filters": c.Decode(tok, "k", []byte("f=2"), &got),
		"other list":    c.Decode(tok, "k2", []byte("f=1"), &got),
		"other key":     other.Decode(tok, "k", []byte("f=1"), &got),
		"altered":       c.Decode(string(b), "k", []byte("f=1"), &got),
		"not base64":    c.Decode("!!", "k", nil, &got),
		"empty":         c.Decode("", "k", nil, &got),
	} {
		is.True(isPageTokenError(err)) // refused as invalid page_token
		_ = name
	}

	// Two codecs with the same secret (two api replicas) read each other's tokens.
	is.NoErr(pagetoken.New(pagetoken.DeriveKey("secret")).Decode(tok, "k", []byte("f=1"), &got))
}

// FuzzDecode: no input makes Decode panic or accept a token the key did not sign; a token it
// made always reads back.
func FuzzDecode(f *testing.F) {
	c := pagetoken.New(pagetoken.DeriveKey("fuzz"))
	good, err := c.Encode("k", []byte("b"), cursor{T: 1, I: "id"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "k", []byte("b"))
	f.Add("", "k", []byte(nil))
	f.Add("AQ", "k", []byte("b"))
	// The unkeyed tokens of earlier releases (history v1, fires f1:, deployments d1:).
	f.Add("AQAGLtJ8Y9tQAZR0Z3ZwfPeH1vhzB0YXq7BjTFZuqJ8AAAAA", "monitoring.history", []byte(""))
	f.Add("ZjE6Mjk5OS0wMS0wMVQwMDowMDowMFogeA", "scheduler.fires", []byte(""))
	f.Add("ZDE6d2Y", "deployments.list", []byte(""))
	f.Fuzz(func(t *testing.T, token, kind string, binding []byte) {
		var got cursor
		err := c.Decode(token, kind, binding, &got)
		if err != nil && !isPageTokenError(err) {
			t.Fatalf("Decode error is not an invalid page_token: %v", err)
		}
		// Only the signed payload reads (the base64 decoder skips newlines, so the text may vary).
		if err == nil && (got != cursor{T: 1, I: "id"} || kind != "k" || string(binding) != "b") {
			t.Fatalf("Decode accepted a token it did not make: %q", token)
		}
		tok, err := c.Encode(kind, binding, cursor{T: int64(len(token)), I: token})
		if err != nil {
			if len(token) > 400 {
				return // too long to be a token; refused on both sides
			}
			t.Fatal(err)
		}
		if err := c.Decode(tok, kind, binding, &got); err != nil || got.T != int64(len(token)) {
			t.Fatalf("own token does not read back: %v", err)
		}
	})
}
