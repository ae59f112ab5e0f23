package deployments

import (
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Status is a deployment's lifecycle state. The values are the ones stored in
// workflows.deployment_status (see the CHECK constraint in migrations/).
type Status string

const (
	StatusDraft    Status = "DRAFT"
	StatusDeployed Status = "DEPLOYED"
	StatusPaused   Status = "PAUSED"
	StatusArchived Status = "ARCHIVED"
)

// Definition is a workflow's DAG as stored in one immutable revision.
type Definition struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Nodes       []Node `json:"nodes"`
}

// Node is one step of a definition.
type Node struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	Params    map[string]any `json:"params,omitempty"`
	DependsOn []string       `json:"depends_on,omitempty"`
}

// Trigger is a cron schedule or a webhook path; exactly one of Cron and Webhook is set.
type Trigger struct {
	ID      string
	Cron    *CronSchedule
	Webhook *Webhook
}

// CronSchedule fires at the expression's times in Timezone plus the workflow's hash jitter.
type CronSchedule struct {
	// Expression as the user wrote it (5-, 6- or 7-field, or a @macro).
	Expression string
	// Timezone is an IANA name; "UTC" when the user gave none.
	Timezone string
	// JitterWindowSeconds is the window of the hash jitter; 0 turns it off.
	JitterWindowSeconds uint32
	// RepeatedHour is the policy for wall-clock times that happen twice (clocks go back).
	// Default: policy.RepeatedHourDefault, classic cron (stored as "").
	RepeatedHour policy.RepeatedHour
	// SkippedHour is the policy for wall-clock times that never happen (clocks go forward).
	// Default: policy.SkippedHourDefault, classic cron (stored as "").
	SkippedHour policy.SkippedHour
	// BlackoutCalendars names the blackout calendars (internal/calendars) whose windows this
	// trigger does not fire in, in the caller's order; each must exist at deploy.
	BlackoutCalendars []string
	// AfterBlackout is what happens when a blackout window that covered fires ends.
	// Default: policy.AfterBlackoutUnspecified, policy.DefaultAfterBlackout (DROP) applies
	// (stored as "").
	AfterBlackout policy.AfterBlackout
}

// Webhook fires when TriggerWorkflow names Path, or on a signed POST /hooks/{Path}
// (internal/webhook).
type Webhook struct {
	Path string
	// Secret is the signing secret as a caller gives it to Deploy or Update: input only. The
	// service seals it into SealedSecret and clears it; nothing read back carries it.
	Secret string
	// SealedSecret is the secret encrypted under WFR_WEBHOOK_SECRET_KEY (internal/webhook.Box), as
	// stored in triggers.webhook_secret; nil when the trigger has no secret.
	SealedSecret []byte
}

// HasSecret reports whether the webhook has a signing secret.
func (w *Webhook) HasSecret() bool { return len(w.SealedSecret) > 0 }

// Bounds of a webhook secret, in bytes (the proto says the same).
const (
	MinWebhookSecretBytes = 16
	MaxWebhookSecretBytes = 256
)

// Config is a deployment's admission, timeout, retry and misfire settings, stored as the
// workflows.deployment_config JSON document. WithDefaults fills what the caller left unset.
type Config struct {
	// OverlapPolicy is applied by internal/execution's admission. Default: policy.DefaultOverlap.
	// Stored as its text ("SKIP", ...); an unknown stored text fails the read.
	OverlapPolicy    policy.Overlap `json:"overlap_policy"`
	ExecutionTimeout time.Duration  `json:"execution_timeout"`
	Retry            RetryPolicy    `json:"retry"`
	CatchUpWindow    time.Duration  `json:"catch_up_window"`
	// MisfirePolicy is applied by internal/scheduler's catch-up. Default: policy.DefaultMisfire.
	// Stored as its text ("FIRE_ONCE", ...); an unknown stored text fails the read.
	MisfirePolicy policy.Misfire `json:"misfire_policy"`
	// RetentionAge is how long terminal executions are kept (internal/retention's janitor).
	// Default: 0, the janitor's global default (DefaultRetentionAge unless configured).
	RetentionAge time.Duration `json:"retention_age,omitempty"`
	// RetentionKeepLast is how many of the newest executions the janitor always keeps, whatever
	// their age. Default: 0, the janitor's global default (DefaultRetentionKeepLast unless
	// configured).
	RetentionKeepLast int `json:"retention_keep_last,omitempty"`
}

// RetryPolicy is how failed executions are retried.
type RetryPolicy struct {
	MaxAttempts        uint32        `json:"max_attempts"`
	InitialBackoff     time.Duration `json:"initial_backoff"`
	MaxBackoff         time.Duration `json:"max_backoff"`
	BackoffCoefficient float64       `json:"backoff_coefficient"`
}

// Defaults of Config, stated once.
const (
	DefaultExecutionTimeout    = time.Hour
	DefaultCatchUpWindow       = 10 * time.Minute
	DefaultMaxAttempts         = 1
	DefaultInitialBackoff      = time.Second
	DefaultMaxBackoff          = 5 * time.Minute
	DefaultBackoffCoefficient  = 2.0
	DefaultJitterWindowSeconds = 300
	DefaultTimezone            = "UTC"
	// Global retention defaults of the janitor (Config.RetentionAge, Config.RetentionKeepLast).
	DefaultRetentionAge      = 30 * 24 * time.Hour
	DefaultRetentionKeepLast = 100
)

// Deployment is a workflow as the runtime runs it: the current revision's definition, its
// triggers and config. One row of the workflows table, joined with its current revision and
// its triggers.
type Deployment struct {
	// ID is a server-assigned UUID.
	ID string
	// WorkflowID is Definition.ID; unique.
	WorkflowID string
	// Revision is the current revision number, from 1.
	Revision int32
	Status   Status
	// DeployedAt is when it last became DEPLOYED or deployed a new revision; zero when never.
	DeployedAt time.Time
	// PausedAt is when it last became PAUSED; zero when never. A resume's catch-up records the
	// cron times in (PausedAt, DeployedAt] PAUSED (internal/scheduler).
	PausedAt   time.Time
	Definition Definition
	Triggers   []Trigger
	Config     Config
	CreatedAt  time.Time
	UpdatedAt  time.Time
}
