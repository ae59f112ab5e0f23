package policy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// textPolicy is what the five policies share.
type textPolicy interface {
	fmt.Stringer
	MarshalText() ([]byte, error)
	Valid() bool
}

// roundTrip checks that every value's text is the stored form want names, parses back to the
// value, and survives JSON.
func roundTrip[T interface {
	comparable
	textPolicy
}](t *testing.T, parse func(string) (T, error), want map[T]string) {
	t.Helper()
	is := is.New(t)
	for v, text := range want {
		is.True(v.Valid()) // a constant is valid
		b, err := v.MarshalText()
		is.NoErr(err)
		is.Equal(string(b), text) // the stored form
		back, err := parse(text)
		is.NoErr(err)
		is.Equal(back, v) // Parse inverts MarshalText
		if text != "" {
			is.Equal(v.String(), text) // String is the text, but for the zero value
		}
		j, err := json.Marshal(struct{ P T }{v})
		is.NoErr(err)
		is.Equal(string(j), fmt.Sprintf(`{"P":%q}`, text)) // a JSON string
		var got struct{ P T }
		is.NoErr(json.Unmarshal(j, &got))
		is.Equal(got.P, v) // and back
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	t.Run("overlap", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, policy.ParseOverlap, map[policy.Overlap]string{
			policy.OverlapUnspecified: "",
			policy.OverlapSkip:        "SKIP",
			policy.OverlapBufferOne:   "BUFFER_ONE",
			policy.OverlapBufferAll:   "BUFFER_ALL",
			policy.OverlapCancelOther: "CANCEL_OTHER",
			policy.OverlapAllowAll:    "ALLOW_ALL",
		})
	})
	t.Run("misfire", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, policy.ParseMisfire, map[policy.Misfire]string{
			policy.MisfireUnspecified: "",
			policy.MisfireFireAll:     "FIRE_ALL",
			policy.MisfireFireOnce:    "FIRE_ONCE",
			policy.MisfireSkip:        "SKIP",
		})
	})
	t.Run("repeated hour", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, policy.ParseRepeatedHour, map[policy.RepeatedHour]string{
			policy.RepeatedHourDefault: "",
			policy.RepeatedHourOnce:    "ONCE",
			policy.RepeatedHourTwice:   "TWICE",
		})
	})
	t.Run("skipped hour", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, policy.ParseSkippedHour, map[policy.SkippedHour]string{
			policy.SkippedHourDefault: "",
			policy.SkippedHourShift:   "SHIFT",
			policy.SkippedHourSkip:    "SKIP",
		})
	})
	t.Run("after blackout", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, policy.ParseAfterBlackout, map[policy.AfterBlackout]string{
			policy.AfterBlackoutUnspecified: "",
			policy.AfterBlackoutDrop:        "DROP",
			policy.AfterBlackoutFireOnce:    "FIRE_ONCE",
		})
	})
}

func TestZeroValueNames(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(policy.OverlapUnspecified.String(), "UNSPECIFIED")
	is.Equal(policy.MisfireUnspecified.String(), "UNSPECIFIED")
	is.Equal(policy.RepeatedHourDefault.String(), "DEFAULT")
	is.Equal(policy.SkippedHourDefault.String(), "DEFAULT")
	is.Equal(policy.AfterBlackoutUnspecified.String(), "UNSPECIFIED")
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(policy.DefaultOverlap, policy.OverlapSkip)                    // the newcomer is skipped
	is.Equal(policy.DefaultMisfire, policy.MisfireFireOnce)                // what a deployment without one gets
	is.Equal(policy.DefaultAfterBlackout, policy.AfterBlackoutDrop)        // covered fires are dropped
	is.Equal(policy.OverlapUnspecified.OrDefault(), policy.DefaultOverlap) // unset: the default
	is.Equal(policy.MisfireUnspecified.OrDefault(), policy.DefaultMisfire)
	is.Equal(policy.OverlapAllowAll.OrDefault(), policy.OverlapAllowAll) // set: kept
	is.Equal(policy.MisfireSkip.OrDefault(), policy.MisfireSkip)
	is.Equal(policy.AfterBlackoutUnspecified.OrDefault(), policy.DefaultAfterBlackout)
	is.Equal(policy.AfterBlackoutFireOnce.OrDefault(), policy.AfterBlackoutFireOnce)
}

func TestUnknown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// Texts no policy has: other names, other case, the String of a zero value, proto names.
	for _, s := range []string{"NOPE", "skip", " SKIP", "DEFAULT", "UNSPECIFIED", "OVERLAP_POLICY_SKIP", "1"} {
		_, err := policy.ParseOverlap(s)
		is.True(errors.Is(err, policy.ErrUnknown)) // overlap
		_, err = policy.ParseMisfire(s)
		is.True(errors.Is(err, policy.ErrUnknown)) // misfire
		_, err = policy.ParseRepeatedHour(s)
		is.True(errors.Is(err, policy.ErrUnknown)) // repeated hour
		_, err = policy.ParseSkippedHour(s)
		is.True(errors.Is(err, policy.ErrUnknown)) // skipped hour
		_, err = policy.ParseAfterBlackout(s)
		is.True(errors.Is(err, policy.ErrUnknown)) // after blackout
	}
	_, err := policy.ParseMisfire("BUFFER_ONE")
	is.True(err != nil) // another policy's name
	_, err = policy.ParseRepeatedHour("SHIFT")
	is.True(err != nil)
	_, err = policy.ParseAfterBlackout("FIRE_ALL")
	is.True(err != nil)

	// Values no constant has.
	for _, v := range []textPolicy{policy.Overlap(6), policy.Misfire(4), policy.RepeatedHour(3), policy.SkippedHour(255),
		policy.AfterBlackout(3)} {
		is.True(!v.Valid())
		_, err := v.MarshalText()
		is.True(errors.Is(err, policy.ErrUnknown)) // cannot be stored
		_, err = json.Marshal(v)
		is.True(err != nil) // nor written as JSON
	}
	is.Equal(policy.Overlap(6).String(), "Overlap(6)")
	is.Equal(policy.Misfire(9).String(), "Misfire(9)")
	is.Equal(policy.RepeatedHour(9).String(), "RepeatedHour(9)")
	is.Equal(policy.SkippedHour(9).String(), "SkippedHour(9)")
	is.Equal(policy.AfterBlackout(9).String(), "AfterBlackout(9)")

	// An unknown stored text fails the read and leaves the value alone.
	p := policy.OverlapBufferAll
	is.True(json.Unmarshal([]byte(`"NOPE"`), &p) != nil)
	is.Equal(p, policy.OverlapBufferAll)
	var c struct {
		Misfire policy.Misfire `json:"misfire_policy"`
	}
	is.True(json.Unmarshal([]byte(`{"misfire_policy":"FIRE_SOMETIMES"}`), &c) != nil)
	is.True(json.Unmarshal([]byte(`{"misfire_policy":2}`), &c) != nil) // not a string
	is.NoErr(json.Unmarshal([]byte(`{}`), &c))                         // absent: the zero value
	is.Equal(c.Misfire, policy.MisfireUnspecified)
}
