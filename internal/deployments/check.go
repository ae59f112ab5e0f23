package deployments

import (
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Check runs the checks Deploy runs before its transaction (the definition, the triggers, the
// server's limits, the config, and whether webhook secrets can be stored) and touches nothing:
// what a deploy of p would be refused for, short of conflicts only the store sees (a webhook
// path another deployment holds). The field paths of its violations start with prefix, so a
// deployment nested in another request names its place there ("what_if.deployment.").
func (s *Service) Check(p *DeployParams, prefix string) error {
	v := &errdefs.ValidationError{}
	s.validateDefinition(v, &p.Definition)
	validateTriggers(v, "triggers", p.Triggers, p.Definition.ID, s.cfg.Now())
	s.cfg.Limits.checkTriggers(v, "triggers", p.Triggers, s.cfg.Now())
	validateConfig(v, "config", &p.Config)
	s.cfg.Limits.checkConfig(v, "config", &p.Config)
	if err := v.OrNil(); err != nil {
		for i := range v.Violations {
			v.Violations[i].Field = prefix + v.Violations[i].Field
		}
		return err
	}
	return s.canSeal(p.Triggers)
}
