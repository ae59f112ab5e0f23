// The API's enums in words and colours.
import {
  DeploymentStatus,
  ExecutionStatus,
  FireOutcome,
  MisfirePolicy,
  OverlapPolicy,
  RepeatedHourPolicy,
  ScheduleHealthState,
  SkippedHourPolicy,
  TriggerType,
} from "@workflow-runtime/sdk";

/** The colour class of a badge: ok, warn, err, info, or "" (neutral). */
export type Tone = "ok" | "warn" | "err" | "info" | "";

const words = (name: string) => {
  const s = name.toLowerCase().replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
};

export const deploymentStatuses = [
  DeploymentStatus.DEPLOYED,
  DeploymentStatus.PAUSED,
  DeploymentStatus.DRAFT,
  DeploymentStatus.ARCHIVED,
];

export function deploymentStatusName(s: DeploymentStatus): string {
  return DeploymentStatus[s] ?? String(s);
}

export function deploymentStatusLabel(s: DeploymentStatus): string {
  return words(deploymentStatusName(s));
}

export function deploymentTone(s: DeploymentStatus): Tone {
  switch (s) {
    case DeploymentStatus.DEPLOYED:
      return "ok";
    case DeploymentStatus.PAUSED:
      return "warn";
    case DeploymentStatus.DRAFT:
      return "info";
    default:
      return "";
  }
}

export const executionStatuses = [
  ExecutionStatus.PENDING,
  ExecutionStatus.RUNNING,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.FAILED,
  ExecutionStatus.TIMED_OUT,
  ExecutionStatus.CANCELLED,
  ExecutionStatus.SKIPPED,
];

export function executionStatusName(s: ExecutionStatus): string {
  return ExecutionStatus[s] ?? String(s);
}

export function executionStatusLabel(s: ExecutionStatus): string {
  return words(executionStatusName(s));
}

export function executionTone(s: ExecutionStatus): Tone {
  switch (s) {
    case ExecutionStatus.SUCCEEDED:
      return "ok";
    case ExecutionStatus.FAILED:
    case ExecutionStatus.TIMED_OUT:
      return "err";
    case ExecutionStatus.RUNNING:
      return "info";
    case ExecutionStatus.PENDING:
      return "warn";
    default:
      return "";
  }
}

/** Whether an execution has reached a status it never leaves. */
export function isTerminal(s: ExecutionStatus): boolean {
  return s !== ExecutionStatus.PENDING && s !== ExecutionStatus.RUNNING && s !== ExecutionStatus.UNSPECIFIED;
}

export const triggerTypes = [TriggerType.CRON, TriggerType.WEBHOOK, TriggerType.MANUAL];

export function triggerTypeName(t: TriggerType): string {
  return TriggerType[t] ?? String(t);
}

export function triggerTypeLabel(t: TriggerType): string {
  return words(triggerTypeName(t));
}

export const fireOutcomes = [
  FireOutcome.FIRED,
  FireOutcome.DEDUPLICATED,
  FireOutcome.CAUGHT_UP,
  FireOutcome.SKIPPED,
  FireOutcome.PAUSED,
  FireOutcome.MISSED,
];

export function fireOutcomeLabel(o: FireOutcome): string {
  return words(FireOutcome[o] ?? String(o));
}

export function fireOutcomeTone(o: FireOutcome): Tone {
  switch (o) {
    case FireOutcome.FIRED:
      return "ok";
    case FireOutcome.DEDUPLICATED:
      return "info";
    case FireOutcome.PAUSED:
      return ""; // the deployment was paused then: nothing is wrong
    case FireOutcome.CAUGHT_UP:
    case FireOutcome.SKIPPED:
      return "warn";
    case FireOutcome.MISSED:
      return "err";
    default:
      return "";
  }
}

// In the server's order: unhealthy first.
export const scheduleHealthStates = [
  ScheduleHealthState.OVERDUE,
  ScheduleHealthState.LATE,
  ScheduleHealthState.SILENT,
  ScheduleHealthState.PAUSED,
  ScheduleHealthState.ON_TIME,
];

export function scheduleHealthStateName(s: ScheduleHealthState): string {
  return ScheduleHealthState[s] ?? String(s);
}

export function scheduleHealthLabel(s: ScheduleHealthState): string {
  return words(scheduleHealthStateName(s));
}

export function scheduleHealthTone(s: ScheduleHealthState): Tone {
  switch (s) {
    case ScheduleHealthState.OVERDUE:
      return "err";
    case ScheduleHealthState.LATE:
    case ScheduleHealthState.SILENT:
      return "warn";
    case ScheduleHealthState.ON_TIME:
      return "ok";
    default:
      return "";
  }
}

export function overlapLabel(p: OverlapPolicy): string {
  return p === OverlapPolicy.UNSPECIFIED ? "Skip (default)" : words(OverlapPolicy[p] ?? String(p));
}

export function misfireLabel(p: MisfirePolicy): string {
  return p === MisfirePolicy.UNSPECIFIED ? "Fire once (default)" : words(MisfirePolicy[p] ?? String(p));
}

export function repeatedHourLabel(p: RepeatedHourPolicy): string {
  return p === RepeatedHourPolicy.UNSPECIFIED ? "classic cron" : words(RepeatedHourPolicy[p] ?? String(p));
}

export function skippedHourLabel(p: SkippedHourPolicy): string {
  return p === SkippedHourPolicy.UNSPECIFIED ? "classic cron" : words(SkippedHourPolicy[p] ?? String(p));
}
