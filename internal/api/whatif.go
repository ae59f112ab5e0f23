package api

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
)

// whatIfPrefix is where GetLoadDistributionRequest carries the what-if's deployment.
const whatIfPrefix = "what_if.deployment."

// loadWhatIfFromProto checks the what-if's deployment by DeployWorkflow's rules (the shape was
// checked by protovalidate with the whole request; Check runs the server's own rules: crons
// parse, zones exist, limits hold) and returns it as the projection takes it. Nothing is stored.
func (h *Handler) loadWhatIfFromProto(w *v1.LoadWhatIf) (*monitoring.LoadWhatIf, error) {
	dep := w.GetDeployment()
	v := &errdefs.ValidationError{}
	p := &deployments.DeployParams{
		Definition: definitionFromProto(dep.GetDefinition()),
		Triggers:   triggersFromProto(v, whatIfPrefix+"triggers", dep.GetTriggers()),
		Config:     configFromProto(v, whatIfPrefix+"config", dep.GetConfig()),
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	if err := h.deployments.Check(p, whatIfPrefix); err != nil {
		return nil, err
	}
	return &monitoring.LoadWhatIf{
		WorkflowID: p.Definition.ID,
		Triggers:   p.Triggers,
		Copies:     int(w.GetCopies()),
		Target:     w.GetTargetPeakOverMean(),
	}, nil
}

func loadWhatIfToProto(r *monitoring.LoadWhatIfResult) *v1.LoadWhatIfResult {
	if r == nil {
		return nil
	}
	out := &v1.LoadWhatIfResult{
		PeakFiresPerSecondBefore:              r.PeakBefore,
		PeakFiresPerSecondAfter:               r.PeakAfter,
		MeanFiresPerSecondAfter:               r.MeanAfter,
		PeakOverMeanAfter:                     r.PeakOverMeanAfter,
		PeakFiresPerSecondWithoutJitter:       r.PeakWithoutJitter,
		PeakFiresPerSecondWithSuggestedWindow: r.PeakWithSuggestedWindow,
		WhatIfFires:                           r.Fires,
	}
	if r.HasSuggestion {
		out.SuggestedJitterWindow = durationpb.New(time.Duration(r.SuggestedWindowSeconds) * time.Second)
	}
	return out
}
