package runtime

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"
)

// TestSignWebhookKnownAnswer pins the signed content to the service's: the same vector as
// internal/webhook/signature's TestSignKnownAnswer.
//
//	printf '%s' 'evt_1.1800000000.{"order":42}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef'
func TestSignWebhookKnownAnswer(t *testing.T) {
	t.Parallel()
	is.New(t).Equal(signWebhook([]byte("whsec-0123456789abcdef"), "evt_1", 1_800_000_000, []byte(`{"order":42}`)),
		"v1=26909d2e30b36a937cf9730cb1e21dee8e1a336dc2db0c1b7a03416fd6075318")
}

// TestTriggerWebhookRefusesLocally: what the service would refuse is refused before sending.
func TestTriggerWebhookRefusesLocally(t *testing.T) {
	t.Parallel()
	secretless, err := NewClient("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	failing, err := NewClient("http://127.0.0.1:1", WithWebhookSecrets(func(path string) ([]byte, error) {
		if path == "empty" {
			return nil, nil
		}
		return nil, errors.New("vault sealed")
	}))
	if err != nil {
		t.Fatal(err)
	}
	signing, err := NewClient("http://127.0.0.1:1", WithWebhookSecret([]byte("s")))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		client    *Client
		path, id  string
		want      connect.Code
		wantField string
	}{
		{"bad path", signing, "Upper/Case", "d1", connect.CodeInvalidArgument, "path"},
		{"no delivery id", signing, "a/b", "", connect.CodeInvalidArgument, "delivery_id"},
		{"delivery id too long", signing, "a/b", strings.Repeat("x", 256), connect.CodeInvalidArgument, "delivery_id"},
		{"no secret option", secretless, "a/b", "d1", connect.CodeFailedPrecondition, ""},
		{"secret lookup fails", failing, "a/b", "d1", connect.CodeFailedPrecondition, ""},
		{"empty secret", failing, "empty", "d1", connect.CodeFailedPrecondition, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			_, err := tc.client.TriggerWebhook(t.Context(), tc.path, []byte(`{}`), tc.id)
			rerr, ok := AsError(err)
			is.True(ok)
			is.Equal(rerr.Code, tc.want)
			if tc.wantField != "" {
				is.Equal(len(rerr.FieldViolations), 1)
				is.Equal(rerr.FieldViolations[0].Field, tc.wantField)
			}
		})
	}
}

func TestWebhookCode(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for status, want := range map[int]connect.Code{
		http.StatusBadRequest:            connect.CodeInvalidArgument,
		http.StatusUnauthorized:          connect.CodeUnauthenticated,
		http.StatusForbidden:             connect.CodePermissionDenied,
		http.StatusNotFound:              connect.CodeNotFound,
		http.StatusConflict:              connect.CodeFailedPrecondition,
		http.StatusRequestEntityTooLarge: connect.CodeResourceExhausted,
		http.StatusTooManyRequests:       connect.CodeResourceExhausted,
		http.StatusServiceUnavailable:    connect.CodeUnavailable,
		http.StatusInternalServerError:   connect.CodeInternal,
		http.StatusTeapot:                connect.CodeUnknown,
	} {
		is.Equal(webhookCode(status), want) // the RPCs' code for the same refusal
	}
}
