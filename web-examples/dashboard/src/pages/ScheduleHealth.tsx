// Schedule health: per cron trigger of every DEPLOYED or PAUSED deployment, whether its fires
// happen on time (ListScheduleHealth), with the cadence advice when runs outlast the interval.
// The Scheduling page lists them all; a deployment's page shows its own next to its triggers.
import { useEffect, useState } from "preact/hooks";
import { DeploymentStatus, ScheduleHealthState, type Deployment, type ScheduleHealth } from "@workflow-runtime/sdk";
import { Badge, Empty, ErrorBox, Loading, Pager, RelTime, Segmented } from "../components/ui";
import { useApp } from "../lib/app";
import { count, dateTime, ms } from "../lib/format";
import { useNow, useQuery } from "../lib/hooks";
import { scheduleHealthLabel, scheduleHealthStateName, scheduleHealthStates, scheduleHealthTone } from "../lib/labels";
import { href, navigate, type Location } from "../lib/router";

const pageSize = 50;

/** The states chosen in the URL (?health=OVERDUE&health=LATE); none: all. */
function chosenStates(loc: Location): ScheduleHealthState[] {
  return loc.query
    .getAll("health")
    .map((s) => ScheduleHealthState[s as keyof typeof ScheduleHealthState])
    .filter((s): s is ScheduleHealthState => typeof s === "number" && s !== ScheduleHealthState.UNSPECIFIED);
}

/** The section of the Scheduling page: counts per state, then every trigger, unhealthy first. */
export function ScheduleHealthSection({ loc }: { loc: Location }) {
  const { client } = useApp();
  const now = useNow(5000);
  const states = chosenStates(loc);
  const statesKey = states.join(",");
  const [tokens, setTokens] = useState<string[]>([""]);
  useEffect(() => setTokens([""]), [statesKey]);
  const token = tokens[tokens.length - 1];
  const q = useQuery(
    (signal) => client.listScheduleHealth({ states, pageSize, pageToken: token }, { signal }),
    ["schedule-health", statesKey, token],
    { refreshMs: 15_000 },
  );
  const schedules = q.data?.schedules;
  const counts = q.data?.counts ?? [];
  const total = counts.reduce((a, c) => a + Number(c.count), 0);
  const setStates = (v: ScheduleHealthState[]) =>
    navigate(loc.path, { ...Object.fromEntries(loc.query), health: v.map(scheduleHealthStateName) }, true);

  return (
    <section class="card" id="schedules" aria-labelledby="schedules-h" style={{ marginBottom: "16px" }}>
      <div class="card-head">
        <h2 id="schedules-h">Schedule health</h2>
        <span class="small muted">whether each cron trigger fires on time, from the fire ledger</span>
      </div>
      <div class="filters">
        <Segmented
          label="State"
          options={scheduleHealthStates.map((s) => ({ value: s, label: scheduleHealthLabel(s) }))}
          selected={states}
          multi
          onChange={setStates}
        />
      </div>
      {q.data && (
        <div class="health-counts" data-testid="schedule-health-counts" data-total={total}>
          <span>
            <strong>{count(total)}</strong> cron trigger{total === 1 ? "" : "s"}
            {states.length > 0 ? " in the chosen states" : ""}
          </span>
          {scheduleHealthStates.map((s) => {
            const c = counts.find((x) => x.state === s);
            return c && c.count > 0n ? (
              <span key={s} data-state={scheduleHealthStateName(s)} data-count={String(c.count)}>
                <Badge tone={scheduleHealthTone(s)}>
                  {scheduleHealthLabel(s)} {count(c.count)}
                </Badge>
              </span>
            ) : null;
          })}
        </div>
      )}
      {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} inline />}
      {q.loading && !schedules ? (
        <Loading what="schedule health" />
      ) : schedules && schedules.length === 0 ? (
        states.length > 0 ? (
          <Empty title="No cron trigger in these states">
            <p>
              Choose <a href={href(loc.path)}>All</a> to see every trigger.
            </p>
          </Empty>
        ) : (
          <Empty title="No cron triggers">
            <p>Deploy a workflow with a cron trigger and whether it fires on time shows up here.</p>
          </Empty>
        )
      ) : schedules ? (
        <div class="table-wrap">
          <table data-testid="schedule-health">
            <thead>
              <tr>
                <th>Workflow</th>
                <th class="hide-narrow">Trigger</th>
                <th>State</th>
                <th>Reason</th>
                <th class="num hide-narrow">Owed</th>
                <th class="hide-narrow">Last settled</th>
                <th class="hide-narrow">Next fire</th>
                <th class="hide-narrow">Cadence</th>
              </tr>
            </thead>
            <tbody>
              {schedules.map((s) => (
                <HealthRow key={`${s.deploymentId}/${s.triggerId}`} s={s} now={now} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {schedules && (schedules.length > 0 || tokens.length > 1) && (
        <Pager
          page={tokens.length}
          hasNext={!!q.data?.nextPageToken}
          onPrev={() => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t))}
          onNext={() => q.data?.nextPageToken && setTokens((t) => [...t, q.data!.nextPageToken])}
        >
          {schedules.length} on this page, unhealthy first
        </Pager>
      )}
    </section>
  );
}

function HealthRow({ s, now }: { s: ScheduleHealth; now: number }) {
  const state = scheduleHealthStateName(s.state);
  const next = ms(s.nextFireTime);
  return (
    <tr data-workflow={s.workflowId} data-trigger={s.triggerId} data-state={state}>
      <td class="wf">
        <a href={href(`/deployments/${s.deploymentId}`)}>
          <strong>{s.workflowId}</strong>
        </a>
      </td>
      <td class="hide-narrow">
        <code>{s.triggerId}</code>
      </td>
      <td>
        <Badge tone={scheduleHealthTone(s.state)}>{scheduleHealthLabel(s.state)}</Badge>
      </td>
      <td class="small">{s.reason || <span class="faint">—</span>}</td>
      <td class="num hide-narrow">{s.owedFires > 0n ? count(s.owedFires) : <span class="faint">—</span>}</td>
      <td class="nowrap hide-narrow">
        <RelTime at={ms(s.lastSettledTime)} now={now} />
      </td>
      <td class="nowrap hide-narrow">
        {next === undefined ? (
          <span class="faint">none</span>
        ) : s.state === ScheduleHealthState.PAUSED ? (
          <span class="faint" title={`would fire at ${dateTime(next)} once resumed`}>
            paused
          </span>
        ) : (
          <RelTime at={next} now={now} />
        )}
      </td>
      <td class="small hide-narrow">
        <Cadence s={s} />
      </td>
    </tr>
  );
}

/** The cadence advice in words when runs outlast the interval; otherwise a quiet "fits". */
function Cadence({ s }: { s: ScheduleHealth }) {
  const c = s.cadence;
  if (!c || c.runs === 0n) return <span class="faint">—</span>;
  if (c.overrun) return <span class="warn-text" data-testid="cadence-advice">{c.message}</span>;
  return (
    <span class="faint" title={c.message}>
      fits
    </span>
  );
}

/** The health of one deployment's cron triggers, by trigger id (none while loading or when it has none). */
export function useTriggerHealth(d: Deployment) {
  const { client } = useApp();
  const watched =
    (d.status === DeploymentStatus.DEPLOYED || d.status === DeploymentStatus.PAUSED) && d.triggers.some((t) => t.kind.case === "cron");
  const q = useQuery(
    // A deployment has far fewer cron triggers than a page holds.
    (signal) => client.listScheduleHealth({ deploymentId: d.id, pageSize: 1000 }, { signal }),
    ["trigger-health", d.id, d.status, d.revision],
    { refreshMs: 15_000, skip: !watched },
  );
  const byTrigger = new Map<string, ScheduleHealth>();
  for (const s of q.data?.schedules ?? []) byTrigger.set(s.triggerId, s);
  return { byTrigger, error: q.error, reload: q.reload };
}

/** One trigger's verdict on a deployment's page: state, reason, owed fires and any advice. */
export function TriggerHealthLine({ s }: { s: ScheduleHealth | undefined }) {
  if (!s) return null;
  return (
    <div class="small trigger-health" data-testid="trigger-health" data-state={scheduleHealthStateName(s.state)}>
      <Badge tone={scheduleHealthTone(s.state)}>{scheduleHealthLabel(s.state)}</Badge>
      {s.reason && <span class="muted">{s.reason}</span>}
      {s.owedFires > 0n && <span class="muted">· {count(s.owedFires)} owed</span>}
      {s.cadence?.overrun && <span class="warn-text">· {s.cadence.message}</span>}
    </div>
  );
}
