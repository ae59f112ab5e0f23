package api

import (
	"testing"

	"github.com/matryer/is"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// checkPolicyEnum checks that every value the proto enum defines converts to a domain value and
// back, that every domain value converts to a defined proto value and back, and that a proto
// value the enum does not define is a violation of the field.
func checkPolicyEnum[D interface {
	comparable
	Valid() bool
}, P interface {
	~int32
	Descriptor() protoreflect.EnumDescriptor
}](t *testing.T, e policyEnum[D, P], domain []D) {
	t.Helper()
	is := is.New(t)
	values := P(0).Descriptor().Values()
	is.Equal(values.Len(), len(domain)) // one domain value per proto value
	for i := range values.Len() {
		p := P(values.Get(i).Number())
		v := &errdefs.ValidationError{}
		d := e.domain(v, "f", p)
		is.NoErr(v.OrNil())
		is.True(d.Valid())
		is.Equal(e.proto(d), p) // and back
	}
	for _, d := range domain {
		p := e.proto(d)
		is.True(values.ByNumber(protoreflect.EnumNumber(p)) != nil) // a defined proto value
		v := &errdefs.ValidationError{}
		is.Equal(e.domain(v, "f", p), d) // and back
	}
	v := &errdefs.ValidationError{}
	e.domain(v, "config.f", P(99))
	is.Equal(len(v.Violations), 1) // an undefined proto value is refused
	is.Equal(v.Violations[0].Field, "config.f")
	is.Equal(v.Violations[0].Rule, "enum.defined_only")
}

func TestPolicyEnums(t *testing.T) {
	t.Parallel()
	checkPolicyEnum(t, overlapEnum, []policy.Overlap{policy.OverlapUnspecified, policy.OverlapSkip, policy.OverlapBufferOne,
		policy.OverlapBufferAll, policy.OverlapCancelOther, policy.OverlapAllowAll})
	checkPolicyEnum(t, misfireEnum, []policy.Misfire{policy.MisfireUnspecified, policy.MisfireFireAll, policy.MisfireFireOnce, policy.MisfireSkip})
	checkPolicyEnum(t, repeatedHourEnum, []policy.RepeatedHour{policy.RepeatedHourDefault, policy.RepeatedHourOnce, policy.RepeatedHourTwice})
	checkPolicyEnum(t, skippedHourEnum, []policy.SkippedHour{policy.SkippedHourDefault, policy.SkippedHourShift, policy.SkippedHourSkip})
	checkPolicyEnum(t, afterBlackoutEnum, []policy.AfterBlackout{policy.AfterBlackoutUnspecified, policy.AfterBlackoutDrop, policy.AfterBlackoutFireOnce})

	// The names match too: the proto's name is the policy's text after the prefix.
	is := is.New(t)
	is.Equal(overlapEnum.proto(policy.OverlapCancelOther).String(), "OVERLAP_POLICY_"+policy.OverlapCancelOther.String())
	is.Equal(misfireEnum.proto(policy.MisfireFireOnce).String(), "MISFIRE_POLICY_"+policy.MisfireFireOnce.String())
	is.Equal(v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_TWICE, repeatedHourEnum.proto(policy.RepeatedHourTwice))
	is.Equal(afterBlackoutEnum.proto(policy.AfterBlackoutFireOnce).String(), "AFTER_BLACKOUT_POLICY_"+policy.AfterBlackoutFireOnce.String())
}
