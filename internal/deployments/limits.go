package deployments

import (
	"cmp"
	"fmt"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Limits are the server-wide ceilings on what one deployment may ask for, so that one caller
// cannot take what the others need (WFR_MAX_* settings; zero fields take the defaults below).
// A deployment over a ceiling is refused with invalid_argument naming the field and the rule.
type Limits struct {
	// MaxTriggers is the most triggers one deployment may have. Default 20.
	MaxTriggers int
	// MinCronInterval is the shortest time a cron trigger may leave between two fires (a
	// per-second cron has 1s). Default 1s: any cron expression.
	MinCronInterval time.Duration
	// MaxNodeDelay is the longest a delay node may wait: a delay holds a worker slot. Default 1h.
	MaxNodeDelay time.Duration
	// MaxExecutionTimeout is the longest execution timeout a deployment may set. Default 24h.
	MaxExecutionTimeout time.Duration
	// MaxRetentionAge is the longest a deployment may keep its executions. Default 365 days.
	MaxRetentionAge time.Duration
	// MaxRetentionKeepLast is the most executions a deployment may keep whatever their age.
	// Default 10000.
	MaxRetentionKeepLast int
}

// Defaults of Limits.
const (
	DefaultMaxTriggers          = 20
	DefaultMinCronInterval      = time.Second
	DefaultMaxNodeDelay         = time.Hour
	DefaultMaxExecutionTimeout  = 24 * time.Hour
	DefaultMaxRetentionAge      = 365 * 24 * time.Hour
	DefaultMaxRetentionKeepLast = 10000
)

// WithDefaults fills the zero fields.
func (l Limits) WithDefaults() Limits {
	l.MaxTriggers = cmp.Or(l.MaxTriggers, DefaultMaxTriggers)
	l.MinCronInterval = cmp.Or(l.MinCronInterval, DefaultMinCronInterval)
	l.MaxNodeDelay = cmp.Or(l.MaxNodeDelay, DefaultMaxNodeDelay)
	l.MaxExecutionTimeout = cmp.Or(l.MaxExecutionTimeout, DefaultMaxExecutionTimeout)
	l.MaxRetentionAge = cmp.Or(l.MaxRetentionAge, DefaultMaxRetentionAge)
	l.MaxRetentionKeepLast = cmp.Or(l.MaxRetentionKeepLast, DefaultMaxRetentionKeepLast)
	return l
}

// cronIntervalSamples is how many consecutive fires checkTriggers looks at for the shortest
// interval: enough to cover the irregular parts of an expression such as "0,1 * * * *".
const cronIntervalSamples = 64

// checkDefinition adds a violation for each delay node over MaxNodeDelay.
func (l Limits) checkDefinition(v *errdefs.ValidationError, prefix string, d *Definition) {
	for i, n := range d.Nodes {
		if n.Type != "delay" {
			continue
		}
		s, ok := n.Params["duration"].(string)
		if !ok {
			continue // the engine's parameter check says what is wrong
		}
		if dur, err := time.ParseDuration(s); err == nil && dur > l.MaxNodeDelay {
			v.Add(fmt.Sprintf("%s.nodes[%d].params.duration", prefix, i), "limits.max_node_delay",
				"a delay of %s is longer than this server allows (%s, WFR_MAX_NODE_DELAY)", dur, l.MaxNodeDelay)
		}
	}
}

// checkTriggers adds a violation for too many triggers and for each cron trigger that fires
// more often than MinCronInterval.
func (l Limits) checkTriggers(v *errdefs.ValidationError, prefix string, triggers []Trigger, now time.Time) {
	if len(triggers) > l.MaxTriggers {
		v.Add(prefix, "limits.max_triggers", "%d triggers; this server allows at most %d per deployment (WFR_MAX_TRIGGERS)", len(triggers), l.MaxTriggers)
	}
	if l.MinCronInterval <= time.Second {
		return // every cron expression fires at most once a second
	}
	for i, t := range triggers {
		if t.Cron == nil {
			continue
		}
		loc, err := cron.LoadLocation(t.Cron.Timezone)
		if err != nil {
			continue // validateTriggers says why
		}
		ct, err := cron.ParseCron(t.Cron.Expression, loc)
		if err != nil {
			continue
		}
		prev := now.UnixNano()
		for range cronIntervalSamples {
			next, err := ct.NextFireTime(prev)
			if err != nil {
				break
			}
			if gap := time.Duration(next - prev); prev != now.UnixNano() && gap < l.MinCronInterval {
				v.Add(fmt.Sprintf("%s[%d].cron.expression", prefix, i), "limits.min_cron_interval",
					"fires %s apart; this server allows at most one fire per %s (WFR_MIN_CRON_INTERVAL)", gap, l.MinCronInterval)
				break
			}
			prev = next
		}
	}
}

// checkConfig adds a violation for each config field over its ceiling.
func (l Limits) checkConfig(v *errdefs.ValidationError, prefix string, c *Config) {
	if c.ExecutionTimeout > l.MaxExecutionTimeout {
		v.Add(prefix+".execution_timeout", "limits.max_execution_timeout",
			"%s is longer than this server allows (%s, WFR_MAX_EXECUTION_TIMEOUT)", c.ExecutionTimeout, l.MaxExecutionTimeout)
	}
	if c.RetentionAge > l.MaxRetentionAge {
		v.Add(prefix+".retention_age", "limits.max_retention_age",
			"%s is longer than this server allows (%s, WFR_MAX_RETENTION_AGE)", c.RetentionAge, l.MaxRetentionAge)
	}
	if c.RetentionKeepLast > l.MaxRetentionKeepLast {
		v.Add(prefix+".retention_keep_last", "limits.max_retention_keep_last",
			"%d is more than this server allows (%d, WFR_MAX_RETENTION_KEEP_LAST)", c.RetentionKeepLast, l.MaxRetentionKeepLast)
	}
}
