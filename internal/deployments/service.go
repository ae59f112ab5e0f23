package deployments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
)

// DefaultNodeTypes are the node types of the reference engine.
var DefaultNodeTypes = []string{"delay", "http", "noop", "transform"}

// ServiceConfig configures a Service. Every field has a default.
type ServiceConfig struct {
	// KnownNodeTypes are the node types a definition may use. Default DefaultNodeTypes.
	KnownNodeTypes []string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// NewID makes deployment ids. Default UUIDv7 (time-ordered, friendly to B-tree indexes).
	NewID func() string
	// CheckParams checks the nodes' params against what the engine accepts (an http node needs
	// a url, a transform's CEL must compile). Field paths are relative to the definition
	// ("nodes[1].params.url"). Default: no check.
	CheckParams func(d *Definition) []errdefs.Violation
	// PageTokens signs List's page tokens. Default pagetoken.New(nil), the development key: the
	// app passes the one built from WFR_PAGE_TOKEN_KEY.
	PageTokens *pagetoken.Codec
	// OnChange is called with the workflow id after each committed Deploy, Update and Delete
	// (schedulers learn of the change through it). It must not block for long. Default: none.
	OnChange func(ctx context.Context, workflowID string)
	// Limits are the server-wide ceilings on triggers, cron frequency, delays, timeouts and
	// retention. Zero fields take their defaults.
	Limits Limits
	// SealSecret encrypts a webhook trigger's secret for storage (internal/webhook.Box.Seal under
	// WFR_WEBHOOK_SECRET_KEY). Default nil: a trigger given a secret is refused with
	// errdefs.ErrFailedPrecondition naming the setting.
	SealSecret func(secret []byte) ([]byte, error)
}

// Service is the deployment lifecycle: deploy (new revision), update per mask, archive, read.
// See doc.go for the state machine.
type Service struct {
	store Store
	cfg   ServiceConfig
}

// NewService returns a Service over store.
func NewService(store Store, cfg ServiceConfig) *Service {
	if len(cfg.KnownNodeTypes) == 0 {
		cfg.KnownNodeTypes = DefaultNodeTypes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PageTokens == nil {
		cfg.PageTokens = pagetoken.New(nil)
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	return &Service{store: store, cfg: cfg}
}

// DeployParams is the input of Deploy.
type DeployParams struct {
	Definition Definition
	Triggers   []Trigger
	// Config as the caller gave it; unset fields take their defaults.
	Config Config
	// Draft stores the revision without deploying it.
	Draft bool
	// ValidateOnly runs the whole deploy, every check and write included, in a transaction
	// that is rolled back: Deploy answers what the deployment would become and stores nothing.
	// OnChange is not called. A deployment that would be created is returned without an id.
	ValidateOnly bool
}

// errValidateOnly rolls back the transaction of a Deploy with ValidateOnly once it has done
// everything a deploy does.
var errValidateOnly = errors.New("validate only: roll back")

// Deploy stores p.Definition as a new revision: revision 1 of a new deployment (created is
// true), or revision n+1 of the workflow's deployment. Triggers and config are replaced. Unless
// Draft, the deployment becomes DEPLOYED (an archived one is revived; a paused one resumes).
// With ValidateOnly it answers the same and stores nothing.
func (s *Service) Deploy(ctx context.Context, p *DeployParams) (d *Deployment, created bool, err error) {
	if err := s.Check(p, ""); err != nil {
		return nil, false, err
	}
	triggers := normalizeTriggers(p.Triggers)
	config := p.Config.WithDefaults()

	// Two first deploys of one workflow id race on the insert; the loser retries as a revision.
	for attempt := 0; ; attempt++ {
		err = s.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
			now := s.cfg.Now().UTC()
			def := p.Definition
			cur, err := tx.DeploymentGetForUpdate(ctx, p.Definition.ID)
			var stored *Definition // the current definition, whose header values a marker keeps
			switch {
			case errors.Is(err, errdefs.ErrNotFound):
				created = true
				d = &Deployment{
					ID:         s.cfg.NewID(),
					WorkflowID: p.Definition.ID,
					Revision:   1,
					Status:     StatusDraft,
					CreatedAt:  now,
				}
			case err != nil:
				return err
			default:
				created = false
				d = cur
				d.Revision++
				stored = &cur.Definition
			}
			if err := keepRedactedHeaders(&def, stored); err != nil {
				return err
			}
			d.Definition = def
			sealed, err := s.sealSecrets(triggers, d.Triggers)
			if err != nil {
				return err
			}
			d.Triggers = sealed
			if err := checkCalendars(ctx, tx, d.Triggers); err != nil {
				return err
			}
			d.Config = config
			d.UpdatedAt = now
			switch {
			case !p.Draft:
				d.Status = StatusDeployed
				d.DeployedAt = now
			case d.Status == StatusArchived:
				d.Status = StatusDraft
			}
			if created {
				if err := tx.DeploymentInsert(ctx, d); err != nil {
					return err
				}
			} else if err := tx.DeploymentUpdate(ctx, d); err != nil {
				return err
			}
			if err := tx.RevisionInsert(ctx, d); err != nil {
				return err
			}
			if err := tx.TriggersReplace(ctx, d); err != nil {
				return err
			}
			if p.ValidateOnly {
				return errValidateOnly
			}
			return nil
		})
		if errors.Is(err, errdefs.ErrConflict) && attempt < 2 {
			continue
		}
		if errors.Is(err, errValidateOnly) {
			if created {
				d.ID = "" // made up for the rolled-back insert: no deployment has it
			}
			return d, created, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("deploy workflow %s: %w", p.Definition.ID, err)
		}
		s.changed(ctx, d.WorkflowID)
		return d, created, nil
	}
}

// Update mask paths.
const (
	PathStatus     = "status"
	PathDefinition = "definition"
	PathTriggers   = "triggers"
	PathConfig     = "config"
)

// UpdateParams is the input of Update: only the fields named in Paths change.
type UpdateParams struct {
	ID         string
	Paths      []string
	Status     Status
	Definition *Definition
	Triggers   []Trigger
	// Config replaces the whole config; unset fields take their defaults.
	Config *Config
}

// Update changes a deployment per p.Paths: status (DEPLOYED: deploy a draft or resume; PAUSED:
// pause), definition (a new revision; its id must be the workflow's), triggers, config. An
// archived deployment cannot change (errdefs.ErrFailedPrecondition); only Deploy revives it.
func (s *Service) Update(ctx context.Context, p *UpdateParams) (*Deployment, error) {
	v := &errdefs.ValidationError{}
	for _, path := range p.Paths {
		switch path {
		case PathStatus:
			if p.Status != StatusDeployed && p.Status != StatusPaused {
				v.Add("status", "status.settable", "status can only be set to DEPLOYED or PAUSED")
			}
		case PathDefinition:
			if p.Definition == nil {
				v.Add("definition", "required", "value is required when update_mask has definition")
				continue
			}
			s.validateDefinition(v, p.Definition)
		case PathTriggers:
			validateTriggers(v, "triggers", p.Triggers, "", s.cfg.Now())
			s.cfg.Limits.checkTriggers(v, "triggers", p.Triggers, s.cfg.Now())
			if err := s.canSeal(p.Triggers); err != nil {
				return nil, err
			}
		case PathConfig:
			if p.Config != nil {
				validateConfig(v, "config", p.Config)
				s.cfg.Limits.checkConfig(v, "config", p.Config)
			}
		default:
			v.Add("update_mask", "update_mask.paths", "unknown path %q (mutable: status, definition, triggers, config)", path)
		}
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var d *Deployment
	err := s.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.DeploymentGetByIDForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		if cur.Status == StatusArchived {
			return fmt.Errorf("deployment %s is archived; deploy the workflow again to revive it: %w", p.ID, errdefs.ErrFailedPrecondition)
		}
		now := s.cfg.Now().UTC()
		d = cur
		d.UpdatedAt = now
		newRevision, triggersChanged := false, false
		for _, path := range p.Paths {
			switch path {
			case PathStatus:
				if err := transition(d, p.Status, now); err != nil {
					return err
				}
			case PathDefinition:
				if p.Definition.ID != d.WorkflowID {
					return errdefs.Invalid("definition.id", "definition.id_matches",
						"must be the deployment's workflow id %q, got %q", d.WorkflowID, p.Definition.ID)
				}
				def := *p.Definition
				if err := keepRedactedHeaders(&def, &d.Definition); err != nil {
					return err
				}
				if !newRevision {
					d.Revision++
				}
				d.Definition = def
				newRevision = true
			case PathTriggers:
				sealed, err := s.sealSecrets(normalizeTriggers(p.Triggers), d.Triggers)
				if err != nil {
					return err
				}
				if err := checkCalendars(ctx, tx, sealed); err != nil {
					return err
				}
				d.Triggers = sealed
				triggersChanged = true
			case PathConfig:
				d.Config = cmp.Or(p.Config, &Config{}).WithDefaults()
			}
		}
		if err := tx.DeploymentUpdate(ctx, d); err != nil {
			return err
		}
		if newRevision {
			if err := tx.RevisionInsert(ctx, d); err != nil {
				return err
			}
		}
		if triggersChanged {
			return tx.TriggersReplace(ctx, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update deployment %s: %w", p.ID, err)
	}
	s.changed(ctx, d.WorkflowID)
	return d, nil
}

// canSeal refuses webhook secrets when no key is configured to store them.
func (s *Service) canSeal(triggers []Trigger) error {
	if s.cfg.SealSecret != nil {
		return nil
	}
	for _, t := range triggers {
		if t.Webhook != nil && t.Webhook.Secret != "" {
			return fmt.Errorf("webhook trigger %q has a secret, but the server cannot store secrets: set WFR_WEBHOOK_SECRET_KEY: %w", t.ID, errdefs.ErrFailedPrecondition)
		}
	}
	return nil
}

// sealSecrets returns triggers with each webhook secret sealed and cleared. A webhook given
// without a secret keeps the sealed secret its path had in previous (the stored triggers):
// re-sending a deployment need not repeat its secrets. triggers is not modified.
func (s *Service) sealSecrets(triggers, previous []Trigger) ([]Trigger, error) {
	kept := map[string][]byte{}
	for _, t := range previous {
		if t.Webhook != nil && t.Webhook.HasSecret() {
			kept[t.Webhook.Path] = t.Webhook.SealedSecret
		}
	}
	out := slices.Clone(triggers)
	for i, t := range out {
		if t.Webhook == nil {
			continue
		}
		w := &Webhook{Path: t.Webhook.Path, SealedSecret: kept[t.Webhook.Path]}
		if t.Webhook.Secret != "" {
			sealed, err := s.cfg.SealSecret([]byte(t.Webhook.Secret))
			if err != nil {
				return nil, fmt.Errorf("webhook trigger %q: %w", t.ID, err)
			}
			w.SealedSecret = sealed
		}
		out[i].Webhook = w
	}
	return out, nil
}

// changed tells cfg.OnChange that a workflow's deployment changed.
func (s *Service) changed(ctx context.Context, workflowID string) {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(ctx, workflowID)
	}
}

// validateDefinition checks a definition given at the request's "definition" field.
func (s *Service) validateDefinition(v *errdefs.ValidationError, d *Definition) {
	validateDefinition(v, "definition", d, s.cfg.KnownNodeTypes)
	s.cfg.Limits.checkDefinition(v, "definition", d)
	if s.cfg.CheckParams == nil || len(v.Violations) > 0 {
		return
	}
	for _, pv := range s.cfg.CheckParams(d) {
		pv.Field = "definition." + pv.Field
		v.Violations = append(v.Violations, pv)
	}
}

// transition moves d to status to, or says why it cannot.
func transition(d *Deployment, to Status, now time.Time) error {
	switch {
	case d.Status == to:
		return nil
	case to == StatusDeployed: // DRAFT or PAUSED
		d.Status = StatusDeployed
		d.DeployedAt = now
		return nil
	case to == StatusPaused && d.Status == StatusDeployed:
		d.Status = StatusPaused
		d.PausedAt = now
		return nil
	default:
		return fmt.Errorf("cannot move deployment %s from %s to %s: %w", d.ID, d.Status, to, errdefs.ErrFailedPrecondition)
	}
}

// Delete archives a deployment: its triggers are removed (their webhook paths freed), its
// revisions and executions are kept. Deleting an archived deployment returns it unchanged.
func (s *Service) Delete(ctx context.Context, id string) (*Deployment, error) {
	var d *Deployment
	err := s.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.DeploymentGetByIDForUpdate(ctx, id)
		if err != nil {
			return err
		}
		d = cur
		if d.Status == StatusArchived {
			return nil
		}
		d.Status = StatusArchived
		d.Triggers = nil
		d.UpdatedAt = s.cfg.Now().UTC()
		if err := tx.DeploymentUpdate(ctx, d); err != nil {
			return err
		}
		return tx.TriggersReplace(ctx, d)
	})
	if err != nil {
		return nil, fmt.Errorf("delete deployment %s: %w", id, err)
	}
	s.changed(ctx, d.WorkflowID)
	return d, nil
}

// Get returns the deployment with this id.
func (s *Service) Get(ctx context.Context, id string) (*Deployment, error) {
	return s.store.DeploymentGet(ctx, id) // its errors say "get deployment <id>"
}

// GetByWorkflow returns the deployment of this workflow id.
func (s *Service) GetByWorkflow(ctx context.Context, workflowID string) (*Deployment, error) {
	return s.store.DeploymentGetByWorkflow(ctx, workflowID) // its errors say "get deployment of workflow <id>"
}

// Page sizes of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// ListQuery selects a page of List.
type ListQuery struct {
	// Statuses filters; empty means all.
	Statuses []Status
	// PageSize defaults to DefaultPageSize and is capped at MaxPageSize.
	PageSize int
	// PageToken is the previous page's next token; "" for the first page.
	PageToken string
}

// listTokenKind names List's tokens for internal/pagetoken.
const listTokenKind = "deployments.list"

// listCursor is the payload of a List page token: the page's last workflow id.
type listCursor struct {
	After string `json:"a"`
}

// listBinding is the canonical form of the filters a List token is bound to.
func listBinding(q *ListQuery) []byte {
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		statuses[i] = string(st)
	}
	return []byte("s=" + strings.Join(slices.Compact(slices.Sorted(slices.Values(statuses))), ","))
}

// List returns one page of deployments ordered by workflow id and the token of the next page
// ("" on the last one). A token that was not made by List is errdefs.ValidationError.
func (s *Service) List(ctx context.Context, q ListQuery) ([]*Deployment, string, error) {
	size := q.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	after := ""
	if q.PageToken != "" {
		var c listCursor
		if err := s.cfg.PageTokens.Decode(q.PageToken, listTokenKind, listBinding(&q), &c); err != nil {
			return nil, "", err
		}
		if c.After == "" {
			return nil, "", pagetoken.Invalid()
		}
		after = c.After
	}
	// One extra row says whether another page follows.
	list, err := s.store.DeploymentList(ctx, &ListParams{Statuses: slices.Clone(q.Statuses), AfterWorkflowID: after, Limit: size + 1})
	if err != nil {
		return nil, "", err // says "list deployments after ..."
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		if next, err = s.cfg.PageTokens.Encode(listTokenKind, listBinding(&q), listCursor{After: list[size-1].WorkflowID}); err != nil {
			return nil, "", err
		}
	}
	return list, next, nil
}

// normalizeTriggers returns triggers with defaults filled (time zone UTC).
func normalizeTriggers(in []Trigger) []Trigger {
	out := make([]Trigger, len(in))
	for i, t := range in {
		out[i] = t
		if t.Cron != nil {
			c := *t.Cron
			c.Timezone = cmp.Or(c.Timezone, DefaultTimezone)
			out[i].Cron = &c
		}
	}
	return out
}

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	c.OverlapPolicy = c.OverlapPolicy.OrDefault()
	c.MisfirePolicy = c.MisfirePolicy.OrDefault()
	c.ExecutionTimeout = cmp.Or(c.ExecutionTimeout, DefaultExecutionTimeout)
	c.CatchUpWindow = cmp.Or(c.CatchUpWindow, DefaultCatchUpWindow)
	c.Retry.MaxAttempts = cmp.Or(c.Retry.MaxAttempts, DefaultMaxAttempts)
	c.Retry.InitialBackoff = cmp.Or(c.Retry.InitialBackoff, DefaultInitialBackoff)
	c.Retry.MaxBackoff = cmp.Or(c.Retry.MaxBackoff, DefaultMaxBackoff)
	c.Retry.BackoffCoefficient = cmp.Or(c.Retry.BackoffCoefficient, DefaultBackoffCoefficient)
	return c
}
