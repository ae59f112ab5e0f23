package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Conversions between the proto messages and the domain types. String enums of the domain
// (statuses, outcomes) are the proto names without their prefix ("DEPLOYMENT_STATUS_PAUSED" is
// "PAUSED"); the policies of internal/policy convert through their tables in policy.go.

func definitionFromProto(p *v1.WorkflowDefinition) deployments.Definition {
	d := deployments.Definition{ID: p.GetId(), Name: p.GetName(), Description: p.GetDescription()}
	d.Nodes = make([]deployments.Node, len(p.GetNodes()))
	for i, n := range p.GetNodes() {
		d.Nodes[i] = deployments.Node{ID: n.GetId(), Type: n.GetType(), DependsOn: n.GetDependsOn()}
		if n.GetParams() != nil {
			d.Nodes[i].Params = n.GetParams().AsMap()
		}
	}
	return d
}

func definitionToProto(d *deployments.Definition) *v1.WorkflowDefinition {
	p := &v1.WorkflowDefinition{Id: d.ID, Name: d.Name, Description: d.Description}
	p.Nodes = make([]*v1.Node, len(d.Nodes))
	for i, n := range d.Nodes {
		p.Nodes[i] = &v1.Node{Id: n.ID, Type: n.Type, DependsOn: n.DependsOn}
		if n.Params != nil {
			// Params came from a Struct or from stored JSON, so they are JSON values.
			p.Nodes[i].Params, _ = structpb.NewStruct(n.Params)
		}
	}
	return p
}

// triggersFromProto converts the triggers at field path prefix ("triggers"); an enum value the
// proto does not define is a violation added to v.
func triggersFromProto(v *errdefs.ValidationError, prefix string, ps []*v1.Trigger) []deployments.Trigger {
	out := make([]deployments.Trigger, len(ps))
	for i, p := range ps {
		out[i].ID = p.GetId()
		switch k := p.GetKind().(type) {
		case *v1.Trigger_Cron:
			window := uint32(deployments.DefaultJitterWindowSeconds)
			if k.Cron.JitterWindowSeconds != nil {
				window = k.Cron.GetJitterWindowSeconds()
			}
			out[i].Cron = &deployments.CronSchedule{
				Expression:          k.Cron.GetExpression(),
				Timezone:            k.Cron.GetTimezone(),
				JitterWindowSeconds: window,
			}
			cronPoliciesFromProto(v, fmt.Sprintf("%s[%d].cron", prefix, i), k.Cron, out[i].Cron)
		case *v1.Trigger_Webhook:
			out[i].Webhook = &deployments.Webhook{Path: k.Webhook.GetPath(), Secret: k.Webhook.GetSecret()}
		}
	}
	return out
}

func triggersToProto(ts []deployments.Trigger) []*v1.Trigger {
	out := make([]*v1.Trigger, len(ts))
	for i, t := range ts {
		out[i] = &v1.Trigger{Id: t.ID}
		switch {
		case t.Cron != nil:
			window := t.Cron.JitterWindowSeconds
			cron := &v1.CronSchedule{
				Expression:          t.Cron.Expression,
				Timezone:            t.Cron.Timezone,
				JitterWindowSeconds: &window,
			}
			cronPoliciesToProto(t.Cron, cron)
			out[i].Kind = &v1.Trigger_Cron{Cron: cron}
		case t.Webhook != nil:
			// The secret is write-only: never copied into an answer, only whether there is one.
			out[i].Kind = &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: t.Webhook.Path, HasSecret: t.Webhook.HasSecret()}}
		}
	}
	return out
}

// configFromProto converts the config at field path prefix ("config"); an enum value the proto
// does not define is a violation added to v.
func configFromProto(v *errdefs.ValidationError, prefix string, p *v1.DeploymentConfig) deployments.Config {
	c := deployments.Config{
		OverlapPolicy:     overlapEnum.domain(v, prefix+".overlap_policy", p.GetOverlapPolicy()),
		MisfirePolicy:     misfireEnum.domain(v, prefix+".misfire_policy", p.GetMisfirePolicy()),
		ExecutionTimeout:  durationFromProto(p.GetExecutionTimeout()),
		CatchUpWindow:     durationFromProto(p.GetCatchUpWindow()),
		RetentionAge:      durationFromProto(p.GetRetentionAge()),
		RetentionKeepLast: int(p.GetRetentionKeepLast()),
	}
	if r := p.GetRetryPolicy(); r != nil {
		c.Retry = deployments.RetryPolicy{
			MaxAttempts:        r.GetMaxAttempts(),
			InitialBackoff:     durationFromProto(r.GetInitialBackoff()),
			MaxBackoff:         durationFromProto(r.GetMaxBackoff()),
			BackoffCoefficient: r.GetBackoffCoefficient(),
		}
	}
	return c
}

func configToProto(c *deployments.Config) *v1.DeploymentConfig {
	var retentionAge *durationpb.Duration
	if c.RetentionAge > 0 { // 0: the janitor's default, left unset
		retentionAge = durationpb.New(c.RetentionAge)
	}
	return &v1.DeploymentConfig{
		RetentionAge:      retentionAge,
		RetentionKeepLast: uint32(max(c.RetentionKeepLast, 0)), //nolint:gosec // bounded by the proto rule
		OverlapPolicy:     overlapEnum.proto(c.OverlapPolicy),
		MisfirePolicy:     misfireEnum.proto(c.MisfirePolicy),
		ExecutionTimeout:  durationpb.New(c.ExecutionTimeout),
		CatchUpWindow:     durationpb.New(c.CatchUpWindow),
		RetryPolicy: &v1.RetryPolicy{
			MaxAttempts:        c.Retry.MaxAttempts,
			InitialBackoff:     durationpb.New(c.Retry.InitialBackoff),
			MaxBackoff:         durationpb.New(c.Retry.MaxBackoff),
			BackoffCoefficient: c.Retry.BackoffCoefficient,
		},
	}
}

// deploymentToProto converts d. Unless secrets, each header value of its http nodes is
// deployments.RedactedHeader (mayReadSecrets says who reads them).
func deploymentToProto(d *deployments.Deployment, secrets bool) *v1.Deployment {
	def := d.Definition
	if !secrets {
		def = deployments.RedactHeaders(def)
	}
	return &v1.Deployment{
		Id:         d.ID,
		WorkflowId: d.WorkflowID,
		Revision:   d.Revision,
		Status:     deploymentStatusToProto(d.Status),
		DeployedAt: timestampOrNil(d.DeployedAt),
		Definition: definitionToProto(&def),
		Triggers:   triggersToProto(d.Triggers),
		Config:     configToProto(&d.Config),
		CreateTime: timestampOrNil(d.CreatedAt),
		UpdateTime: timestampOrNil(d.UpdatedAt),
	}
}

// mayReadSecrets reports whether the caller may read the header values of http nodes, which
// carry credentials: with authentication on, only a token with the admin scope; with it off
// (no identity: a development server on loopback, or WFR_AUTH=none said explicitly), anyone.
func mayReadSecrets(ctx context.Context) bool {
	id := auth.IdentityFrom(ctx)
	return id == nil || id.Has(auth.ScopeAdmin)
}

func deploymentStatusToProto(s deployments.Status) v1.DeploymentStatus {
	return v1.DeploymentStatus(v1.DeploymentStatus_value["DEPLOYMENT_STATUS_"+string(s)])
}

func deploymentStatusFromProto(s v1.DeploymentStatus) deployments.Status {
	return deployments.Status(enumName(s.String(), "DEPLOYMENT_STATUS_"))
}

// enumName strips the proto prefix; the zero value (UNSPECIFIED) becomes "".
func enumName(name, prefix string) string {
	name = strings.TrimPrefix(name, prefix)
	if name == "UNSPECIFIED" {
		return ""
	}
	return name
}

func durationFromProto(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

func timestampOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
