package deployments

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// stringConfig is Config as it was when its policies were strings: what
// workflows.deployment_config rows written before internal/policy hold.
type stringConfig struct {
	OverlapPolicy     string        `json:"overlap_policy"`
	ExecutionTimeout  time.Duration `json:"execution_timeout"`
	Retry             RetryPolicy   `json:"retry"`
	CatchUpWindow     time.Duration `json:"catch_up_window"`
	MisfirePolicy     string        `json:"misfire_policy"`
	RetentionAge      time.Duration `json:"retention_age,omitempty"`
	RetentionKeepLast int           `json:"retention_keep_last,omitempty"`
}

// The stored JSON of a config is byte for byte what it was with string policies, for every
// policy value, and old rows read back as the same policies.
func TestConfigJSONUnchanged(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	overlaps := map[policy.Overlap]string{
		policy.OverlapUnspecified: "", policy.OverlapSkip: "SKIP", policy.OverlapBufferOne: "BUFFER_ONE",
		policy.OverlapBufferAll: "BUFFER_ALL", policy.OverlapCancelOther: "CANCEL_OTHER", policy.OverlapAllowAll: "ALLOW_ALL",
	}
	misfires := map[policy.Misfire]string{
		policy.MisfireUnspecified: "", policy.MisfireFireAll: "FIRE_ALL", policy.MisfireFireOnce: "FIRE_ONCE", policy.MisfireSkip: "SKIP",
	}
	retry := RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Second, MaxBackoff: time.Minute, BackoffCoefficient: 2}
	for o, os := range overlaps {
		for m, ms := range misfires {
			c := Config{OverlapPolicy: o, MisfirePolicy: m, ExecutionTimeout: time.Hour, Retry: retry, CatchUpWindow: 10 * time.Minute, RetentionKeepLast: 7}
			old := stringConfig{OverlapPolicy: os, MisfirePolicy: ms, ExecutionTimeout: time.Hour, Retry: retry, CatchUpWindow: 10 * time.Minute, RetentionKeepLast: 7}
			got, err := json.Marshal(c)
			is.NoErr(err)
			want, err := json.Marshal(old)
			is.NoErr(err)
			is.Equal(string(got), string(want)) // written as before
			var back Config
			is.NoErr(json.Unmarshal(want, &back))
			is.Equal(back, c) // an old row reads back as the same config
		}
	}
	// A row written by Deploy (defaults filled), as stored.
	got, err := json.Marshal(Config{}.WithDefaults())
	is.NoErr(err)
	is.Equal(string(got), `{"overlap_policy":"SKIP","execution_timeout":3600000000000,"retry":{"max_attempts":1,"initial_backoff":1000000000,"max_backoff":300000000000,"backoff_coefficient":2},"catch_up_window":600000000000,"misfire_policy":"FIRE_ONCE"}`)

	// The column default '{}' reads as unset policies; an unknown stored policy fails the read.
	var c Config
	is.NoErr(json.Unmarshal([]byte(`{}`), &c))
	is.Equal(c.OverlapPolicy, policy.OverlapUnspecified)
	is.True(json.Unmarshal([]byte(`{"overlap_policy":"SOMETIMES"}`), &c) != nil) // unknown overlap
	is.True(json.Unmarshal([]byte(`{"misfire_policy":"NOPE"}`), &c) != nil)      // unknown misfire
}
