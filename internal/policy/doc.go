// Package policy defines, once, the five policies a deployment chooses: Overlap and Misfire in
// its config, RepeatedHour, SkippedHour and AfterBlackout on each cron trigger. Each is a typed
// value with its constants, its default, String, a Parse and MarshalText/UnmarshalText. The
// package is a leaf: it imports nothing of the tree, so every layer (api, deployments,
// execution, scheduler, scheduling, store, monitoring, schedulehealth) uses the same type.
//
// # The policies
//
//	policy        says                                          default (zero value)
//	Overlap       an execution due while another of the        OverlapUnspecified: DefaultOverlap,
//	              same workflow runs: SKIP, BUFFER_ONE,         SKIP (the newcomer ends SKIPPED)
//	              BUFFER_ALL, CANCEL_OTHER, ALLOW_ALL
//	Misfire       the fire times missed while no scheduler ran: MisfireUnspecified: DefaultMisfire,
//	              FIRE_ALL, FIRE_ONCE, SKIP                     FIRE_ONCE (the latest, in the window)
//	RepeatedHour  wall-clock times the clocks going back       RepeatedHourDefault: classic cron,
//	              repeat: ONCE, TWICE                           ONCE for a fixed hour field, else TWICE
//	SkippedHour   wall-clock times the clocks going forward    SkippedHourDefault: classic cron,
//	              skip: SHIFT, SKIP                             SHIFT for a fixed hour field, else SKIP
//	AfterBlackout the end of a blackout window that covered    AfterBlackoutUnspecified:
//	              fires: DROP, FIRE_ONCE                        DefaultAfterBlackout, DROP (no fire)
//
// The zero value of Overlap and Misfire is "unset": deployments.Config.WithDefaults fills it at
// deploy (OrDefault), and a consumer that finds it unset anyway applies OrDefault too, so the
// default is stated here only. FIRE_ONCE is what a deployment without a misfire policy has
// always got end to end (the proto says so too). The zero value of AfterBlackout is "unset" too,
// but no deploy fills it: a trigger keeps it ("" stored, as always) and its consumer applies
// OrDefault. The zero value of the DST policies is a policy of its own, resolved per cron
// expression by internal/cron.
//
// # Where each behaves
//
//   - Overlap: internal/execution's Worker. handle.go takes the workflow lock (the gate; none under
//     ALLOW_ALL), admit.go applies the policy when the gate is held (SKIP, BUFFER_ONE and
//     BUFFER_ALL through internal/waitlist, CANCEL_OTHER's newest-wins), run.go re-checks
//     CANCEL_OTHER once the run is claimed; internal/execution/doc.go has the failure cases.
//     internal/schedulehealth's cadence advice reads it.
//   - Misfire: internal/cron.PlanMisfires plans (pure); internal/scheduler's catch-up
//     (Service.CatchUp, doc.go "Misfires") applies the deployment's policy.
//   - RepeatedHour, SkippedHour: internal/cron (trigger.go resolves the default, dst.go walks
//     the offset spans, dstreport.go explains them in GetDstReport).
//   - AfterBlackout: internal/scheduler (blackout.go: Service.AfterBlackout makes the fire at the
//     window's end, doc.go "Blackouts").
//
// # Forms
//
// The text of a value (MarshalText, Parse, UnmarshalText) is its proto enum name without the
// prefix ("SKIP" for OVERLAP_POLICY_SKIP), and "" for the zero value: it is what is stored, in
// the workflows.deployment_config JSON (overlap_policy, misfire_policy) and in the
// triggers.repeated_hour, triggers.skipped_hour and triggers.after_blackout columns (their
// CHECKs list the same texts). Parse and UnmarshalText refuse any other text (ErrUnknown), so a
// corrupt row fails its read instead of acting as some other policy. String is the text,
// "UNSPECIFIED" or "DEFAULT" for a zero value; it names the policy in logs, metrics and ledger
// reasons.
//
// The proto enums are converted at the API edge only, by the tables in internal/api/policy.go; a
// value the enum does not define is invalid_argument (protovalidate's enum.defined_only first).
// deployments.Service.Check refuses a value that is not one of the constants (a Go caller's).
//
// To add a value: its constant and text here, the proto enum value, its row in
// internal/api/policy.go, the column CHECK in migrations/ for a trigger's policy, and its
// behaviour in the package above.
package policy
