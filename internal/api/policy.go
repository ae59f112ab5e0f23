package api

import (
	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// The one conversion of the policies (internal/policy) to and from their proto enums. Every
// domain value has a proto value and every defined proto value a domain one (policy_test.go);
// the UNSPECIFIED values are the domain's zero values (unset, or the classic-cron DST default).

var (
	overlapEnum = newPolicyEnum(map[policy.Overlap]v1.OverlapPolicy{
		policy.OverlapUnspecified: v1.OverlapPolicy_OVERLAP_POLICY_UNSPECIFIED,
		policy.OverlapSkip:        v1.OverlapPolicy_OVERLAP_POLICY_SKIP,
		policy.OverlapBufferOne:   v1.OverlapPolicy_OVERLAP_POLICY_BUFFER_ONE,
		policy.OverlapBufferAll:   v1.OverlapPolicy_OVERLAP_POLICY_BUFFER_ALL,
		policy.OverlapCancelOther: v1.OverlapPolicy_OVERLAP_POLICY_CANCEL_OTHER,
		policy.OverlapAllowAll:    v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL,
	})
	misfireEnum = newPolicyEnum(map[policy.Misfire]v1.MisfirePolicy{
		policy.MisfireUnspecified: v1.MisfirePolicy_MISFIRE_POLICY_UNSPECIFIED,
		policy.MisfireFireAll:     v1.MisfirePolicy_MISFIRE_POLICY_FIRE_ALL,
		policy.MisfireFireOnce:    v1.MisfirePolicy_MISFIRE_POLICY_FIRE_ONCE,
		policy.MisfireSkip:        v1.MisfirePolicy_MISFIRE_POLICY_SKIP,
	})
	repeatedHourEnum = newPolicyEnum(map[policy.RepeatedHour]v1.RepeatedHourPolicy{
		policy.RepeatedHourDefault: v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_UNSPECIFIED,
		policy.RepeatedHourOnce:    v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_ONCE,
		policy.RepeatedHourTwice:   v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_TWICE,
	})
	skippedHourEnum = newPolicyEnum(map[policy.SkippedHour]v1.SkippedHourPolicy{
		policy.SkippedHourDefault: v1.SkippedHourPolicy_SKIPPED_HOUR_POLICY_UNSPECIFIED,
		policy.SkippedHourShift:   v1.SkippedHourPolicy_SKIPPED_HOUR_POLICY_SHIFT,
		policy.SkippedHourSkip:    v1.SkippedHourPolicy_SKIPPED_HOUR_POLICY_SKIP,
	})
	afterBlackoutEnum = newPolicyEnum(map[policy.AfterBlackout]v1.AfterBlackoutPolicy{
		policy.AfterBlackoutUnspecified: v1.AfterBlackoutPolicy_AFTER_BLACKOUT_POLICY_UNSPECIFIED,
		policy.AfterBlackoutDrop:        v1.AfterBlackoutPolicy_AFTER_BLACKOUT_POLICY_DROP,
		policy.AfterBlackoutFireOnce:    v1.AfterBlackoutPolicy_AFTER_BLACKOUT_POLICY_FIRE_ONCE,
	})
)

// policyEnum pairs the values of one domain policy with its proto enum's.
type policyEnum[D comparable, P ~int32] struct {
	toProto   map[D]P
	fromProto map[P]D
}

func newPolicyEnum[D comparable, P ~int32](pairs map[D]P) policyEnum[D, P] {
	e := policyEnum[D, P]{toProto: pairs, fromProto: make(map[P]D, len(pairs))}
	for d, p := range pairs {
		e.fromProto[p] = d
	}
	return e
}

// proto returns d's proto value. Domain values come from a validated request or a parsed row,
// so every one is in the table.
func (e policyEnum[D, P]) proto(d D) P { return e.toProto[d] }

// domain returns p's domain value; a value the enum does not define (protovalidate's
// enum.defined_only refuses it first) is a violation of field.
func (e policyEnum[D, P]) domain(v *errdefs.ValidationError, field string, p P) D {
	d, ok := e.fromProto[p]
	if !ok {
		v.Add(field, "enum.defined_only", "value must be one of the defined enum values")
	}
	return d
}
