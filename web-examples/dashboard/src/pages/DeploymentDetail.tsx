// One deployment: its graph, triggers with their coming fires and schedule health, config,
// revisions, fire ledger, success rate and run-time percentiles.
import { useState } from "preact/hooks";
import { FireOutcome, type Deployment, type DeploymentConfig, type Execution } from "@workflow-runtime/sdk";
import { Dag } from "../components/Dag";
import { DeploymentActions } from "../components/DeploymentActions";
import { jitterWindow } from "../components/Triggers";
import { Badge, Empty, ErrorBox, Loading, Pager, RelTime, Segmented, Stat } from "../components/ui";
import { useApp } from "../lib/app";
import { count, dateTime, dur, duration, fromMs, ms, percent, shortId, shortTime } from "../lib/format";
import { useNow, useQuery } from "../lib/hooks";
import {
  deploymentStatusLabel,
  deploymentTone,
  executionStatusLabel,
  executionTone,
  fireOutcomeLabel,
  fireOutcomeTone,
  fireOutcomes,
  misfireLabel,
  overlapLabel,
  repeatedHourLabel,
  skippedHourLabel,
  triggerTypeLabel,
} from "../lib/labels";
import { href } from "../lib/router";
import { TriggerHealthLine, useTriggerHealth } from "./ScheduleHealth";

const ranges = [
  { value: "1h", label: "1 h", ms: 3_600_000 },
  { value: "24h", label: "24 h", ms: 86_400_000 },
  { value: "7d", label: "7 d", ms: 7 * 86_400_000 },
  { value: "30d", label: "30 d", ms: 30 * 86_400_000 },
];

function rangeMs(v: string): number {
  return (ranges.find((r) => r.value === v) ?? ranges[1]).ms;
}

export function DeploymentDetailPage({ id }: { id: string }) {
  const { client } = useApp();
  const now = useNow(1000);
  const status = useQuery(
    (signal) => client.getDeploymentStatus({ ref: { case: "deploymentId", value: id } }, { signal }),
    ["deployment", id],
    { refreshMs: 15_000 },
  );
  const d = status.data?.deployment;

  if (status.error !== undefined && !d) {
    return (
      <>
        <div class="crumbs">
          <a href={href("/deployments")}>Deployments</a> /
        </div>
        <ErrorBox error={status.error} onRetry={status.reload} />
      </>
    );
  }
  if (!d) return <Loading what="the deployment" />;
  return (
    <>
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href("/deployments")}>Deployments</a> /
          </div>
          <h1>
            {d.workflowId}
            <Badge tone={deploymentTone(d.status)}>{deploymentStatusLabel(d.status)}</Badge>
            <span class="badge">rev {d.revision}</span>
          </h1>
          <div class="sub">
            {d.definition?.name && d.definition.name !== d.workflowId ? `${d.definition.name} · ` : ""}
            {d.definition?.description || `deployment ${d.id}`}
          </div>
        </div>
        <div class="actions">
          <a class="btn" href={href("/executions", { deployment: d.id, workflow: d.workflowId })}>
            Executions
          </a>
          <DeploymentActions deployment={d} onChanged={status.reload} />
        </div>
      </div>
      {status.error !== undefined && <ErrorBox error={status.error} onRetry={status.reload} />}
      <StatsSection deployment={d} />
      <div class="grid grid-2">
        <section class="card" aria-labelledby="graph-h">
          <div class="card-head">
            <h2 id="graph-h">Graph</h2>
            <span class="small muted">
              {d.definition?.nodes.length ?? 0} nodes, revision {d.revision}
            </span>
          </div>
          {d.definition && d.definition.nodes.length > 0 ? <Dag nodes={d.definition.nodes} /> : <Empty title="No nodes" />}
        </section>
        <TriggersSection deployment={d} previews={status.data?.triggerPreviews ?? []} now={now} />
      </div>
      <div class="grid grid-2">
        <ConfigSection config={d.config} />
        <RevisionsSection deployment={d} now={now} />
      </div>
      <FiresSection deployment={d} now={now} />
      <details class="card" style={{ marginTop: "16px" }}>
        <summary class="card-head" style={{ cursor: "pointer" }}>
          Definition (JSON)
        </summary>
        <div class="card-body">
          <pre class="block">{JSON.stringify(d.definition, null, 2)}</pre>
        </div>
      </details>
    </>
  );
}

function StatsSection({ deployment: d }: { deployment: Deployment }) {
  const { client } = useApp();
  const [range, setRange] = useState("24h");
  const q = useQuery(
    (signal) => {
      const end = Date.now();
      return client.getDeploymentStats(
        { deploymentId: d.id, startTime: fromMs(end - rangeMs(range)), endTime: fromMs(end) },
        { signal },
      );
    },
    ["stats", d.id, range],
    { refreshMs: 30_000 },
  );
  const s = q.data?.deployments.find((x) => x.deploymentId === d.id);
  const finished = s ? Number(s.succeeded) + Number(s.failed) : 0;
  return (
    <section aria-labelledby="stats-h" style={{ marginBottom: "4px" }}>
      <div class="page-head" style={{ marginBottom: "8px", alignItems: "end" }}>
        <h2 id="stats-h" style={{ margin: 0, fontSize: "15px" }}>
          Executions, last {range}
        </h2>
        <Segmented
          label="Range"
          options={ranges.map((r) => ({ value: r.value, label: r.label }))}
          selected={[range]}
          onChange={(v) => setRange(v[0] ?? "24h")}
          required
        />
      </div>
      {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} />}
      <div class="stats" data-testid="deployment-stats">
        <Stat label="Executions" value={s ? count(s.total) : q.loading ? "…" : "0"} />
        <Stat
          label="Success rate"
          value={s && finished > 0 ? percent(s.successRate) : "—"}
          tone={s && finished > 0 ? (s.successRate >= 0.99 ? "ok" : s.successRate < 0.9 ? "err" : "warn") : undefined}
          hint={s ? `${count(s.succeeded)} of ${count(finished)} finished` : undefined}
        />
        <Stat label="Failed" value={s ? count(s.failed) : "—"} tone={s && s.failed > 0n ? "err" : undefined} hint="incl. timed out" />
        <Stat label="Duration p50" value={s && finished > 0 ? dur(s.durationP50) : "—"} />
        <Stat label="p95" value={s && finished > 0 ? dur(s.durationP95) : "—"} />
        <Stat label="p99" value={s && finished > 0 ? dur(s.durationP99) : "—"} />
      </div>
    </section>
  );
}

function TriggersSection({
  deployment: d,
  previews,
  now,
}: {
  deployment: Deployment;
  previews: { triggerId: string; offset?: { seconds: bigint; nanos: number }; fires: { nominalTime?: { seconds: bigint; nanos: number }; scheduledTime?: { seconds: bigint; nanos: number } }[] }[];
  now: number;
}) {
  const health = useTriggerHealth(d);
  return (
    <section class="card" aria-labelledby="triggers-h">
      <div class="card-head">
        <h2 id="triggers-h">Triggers and coming fires</h2>
        <span class="small muted">{d.triggers.length} triggers</span>
      </div>
      {health.error !== undefined && <ErrorBox error={health.error} onRetry={health.reload} inline />}
      {d.triggers.length === 0 ? (
        <Empty title="No triggers">
          <p>It runs only when triggered by workflow id (the Trigger button, or TriggerWorkflow).</p>
        </Empty>
      ) : (
        <div class="card-body" style={{ display: "flex", flexDirection: "column", gap: "14px" }}>
          {d.triggers.map((t) => {
            if (t.kind.case === "webhook") {
              return (
                <div key={t.id}>
                  <div>
                    <span class="chip">
                      <b>webhook</b> <code>{t.kind.value.path}</code>
                    </span>{" "}
                    <span class="muted small">
                      trigger <code>{t.id}</code>
                      {t.kind.value.hasSecret ? " · signed deliveries at POST /hooks/" + t.kind.value.path : ""}
                    </span>
                  </div>
                </div>
              );
            }
            if (t.kind.case !== "cron") return null;
            const c = t.kind.value;
            const p = previews.find((x) => x.triggerId === t.id);
            const win = jitterWindow(t) ?? 300;
            return (
              <div key={t.id} data-trigger={t.id}>
                <div style={{ display: "flex", gap: "8px", flexWrap: "wrap", alignItems: "center" }}>
                  <span class="chip">
                    <b>cron</b> <code>{c.expression}</code>
                  </span>
                  <span class="muted small">
                    trigger <code>{t.id}</code> · {c.timezone || "UTC"} · jitter window {win}s
                    {p ? ` · offset +${dur(p.offset)}` : ""} · repeated hour {repeatedHourLabel(c.repeatedHour)}, skipped
                    hour {skippedHourLabel(c.skippedHour)}
                  </span>
                </div>
                <TriggerHealthLine s={health.byTrigger.get(t.id)} />
                {p && p.fires.length > 0 ? (
                  <div class="table-wrap" style={{ marginTop: "6px" }}>
                    <table class="small">
                      <thead>
                        <tr>
                          <th>Nominal (cron)</th>
                          <th>Fires at (with jitter)</th>
                          <th>When</th>
                        </tr>
                      </thead>
                      <tbody>
                        {p.fires.map((f, i) => (
                          <tr key={i}>
                            <td class="nowrap">{dateTime(ms(f.nominalTime))}</td>
                            <td class="nowrap">{dateTime(ms(f.scheduledTime))}</td>
                            <td class="nowrap">
                              <RelTime at={ms(f.scheduledTime)} now={now} />
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                ) : (
                  <p class="muted small">No coming fires.</p>
                )}
              </div>
            );
          })}
        </div>
      )}
    </section>
  );
}

function ConfigSection({ config: c }: { config?: DeploymentConfig }) {
  return (
    <section class="card" aria-labelledby="config-h">
      <h2 id="config-h">Config</h2>
      <div class="card-body">
        {!c ? (
          <p class="muted">Defaults.</p>
        ) : (
          <dl class="kv">
            <dt>Overlap</dt>
            <dd>{overlapLabel(c.overlapPolicy)}</dd>
            <dt>Timeout</dt>
            <dd>{c.executionTimeout ? dur(c.executionTimeout) : "1h (default)"}</dd>
            <dt>Retries</dt>
            <dd>
              {c.retryPolicy && c.retryPolicy.maxAttempts > 1
                ? `${c.retryPolicy.maxAttempts} attempts, backoff ${dur(c.retryPolicy.initialBackoff)} × ${c.retryPolicy.backoffCoefficient || 2} up to ${dur(c.retryPolicy.maxBackoff)}`
                : "none (one attempt)"}
            </dd>
            <dt>Misfires</dt>
            <dd>
              {misfireLabel(c.misfirePolicy)}, catch-up window {c.catchUpWindow ? dur(c.catchUpWindow) : "10m"}
            </dd>
            <dt>Retention</dt>
            <dd>
              {c.retentionAge && ms(c.retentionAge)! > 0 ? dur(c.retentionAge) : "30 days (service default)"}, newest{" "}
              {c.retentionKeepLast || 100} always kept
            </dd>
          </dl>
        )}
      </div>
    </section>
  );
}

function RevisionsSection({ deployment: d, now }: { deployment: Deployment; now: number }) {
  const { client } = useApp();
  const q = useQuery(
    (signal) => client.getExecutionHistory({ deploymentId: d.id, pageSize: 200 }, { signal }),
    ["recent", d.id],
    { refreshMs: 10_000 },
  );
  const execs = q.data?.executions ?? [];
  const byRevision = new Map<number, { n: number; last?: number }>();
  for (const e of execs) {
    const r = byRevision.get(e.revision) ?? { n: 0 };
    r.n++;
    const t = ms(e.createTime);
    if (t !== undefined && (r.last === undefined || t > r.last)) r.last = t;
    byRevision.set(e.revision, r);
  }
  return (
    <section class="card" aria-labelledby="rev-h">
      <div class="card-head">
        <h2 id="rev-h">Revisions and recent executions</h2>
        <a class="small" href={href("/executions", { deployment: d.id, workflow: d.workflowId })}>
          All executions →
        </a>
      </div>
      <div class="card-body">
        <dl class="kv">
          <dt>Current</dt>
          <dd>
            revision {d.revision} · updated <RelTime at={ms(d.updateTime)} now={now} />
          </dd>
          <dt>Deployed</dt>
          <dd>{d.deployedAt ? <RelTime at={ms(d.deployedAt)} now={now} /> : "never"}</dd>
          <dt>Created</dt>
          <dd>
            <RelTime at={ms(d.createTime)} now={now} />
          </dd>
          {byRevision.size > 0 && (
            <>
              <dt>Runs by revision</dt>
              <dd>
                {[...byRevision.entries()]
                  .sort((a, b) => b[0] - a[0])
                  .map(([rev, r]) => (
                    <div key={rev} class="small">
                      rev {rev}: {r.n} of the last {execs.length}, latest <RelTime at={r.last} now={now} />
                    </div>
                  ))}
              </dd>
            </>
          )}
        </dl>
      </div>
      {q.error !== undefined && <ErrorBox error={q.error} inline />}
      {execs.length === 0 && !q.loading ? (
        <Empty title="No executions yet">
          <p>Trigger it, or wait for its next cron fire.</p>
        </Empty>
      ) : (
        <RecentTable executions={execs.slice(0, 8)} now={now} />
      )}
    </section>
  );
}

function RecentTable({ executions, now }: { executions: Execution[]; now: number }) {
  return (
    <div class="table-wrap">
      <table class="small" data-testid="recent-executions">
        <thead>
          <tr>
            <th>Execution</th>
            <th>Status</th>
            <th>Trigger</th>
            <th>Created</th>
            <th class="num">Took</th>
          </tr>
        </thead>
        <tbody>
          {executions.map((e) => {
            const s = ms(e.startTime);
            const f = ms(e.finishTime);
            return (
              <tr key={e.id}>
                <td>
                  <a class="mono" href={href(`/executions/${e.id}`)}>
                    {shortId(e.id)}
                  </a>
                </td>
                <td>
                  <Badge tone={executionTone(e.status)}>{executionStatusLabel(e.status)}</Badge>
                </td>
                <td>{triggerTypeLabel(e.triggerType)}</td>
                <td class="nowrap">
                  <RelTime at={ms(e.createTime)} now={now} />
                </td>
                <td class="num">{s !== undefined && f !== undefined ? duration(f - s) : "—"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function FiresSection({ deployment: d, now }: { deployment: Deployment; now: number }) {
  const { client } = useApp();
  const [range, setRange] = useState("24h");
  const [outcomes, setOutcomes] = useState<FireOutcome[]>([]);
  const [tokens, setTokens] = useState<string[]>([""]);
  const token = tokens[tokens.length - 1];
  const hasCron = d.triggers.some((t) => t.kind.case === "cron");
  const q = useQuery(
    (signal) =>
      client.listFires(
        {
          deploymentId: d.id,
          startTime: fromMs(Date.now() - rangeMs(range)),
          outcomes,
          pageSize: 50,
          pageToken: token,
        },
        { signal },
      ),
    ["fires", d.id, range, outcomes.join(","), token],
    { refreshMs: 15_000 },
  );
  const fires = q.data?.fires ?? [];
  return (
    <section class="card" aria-labelledby="fires-h">
      <div class="card-head">
        <h2 id="fires-h">Fire ledger</h2>
        <span class="small muted">every scheduled time of the cron triggers, with what became of it</span>
      </div>
      <div class="filters">
        <Segmented
          label="Since"
          options={ranges.map((r) => ({ value: r.value, label: r.label }))}
          selected={[range]}
          onChange={(v) => {
            setRange(v[0] ?? "24h");
            setTokens([""]);
          }}
          required
        />
        <Segmented
          label="Outcome"
          options={fireOutcomes.map((o) => ({ value: o, label: fireOutcomeLabel(o) }))}
          selected={outcomes}
          multi
          onChange={(v) => {
            setOutcomes(v);
            setTokens([""]);
          }}
        />
      </div>
      {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} inline />}
      {q.loading && !q.data ? (
        <Loading what="fires" />
      ) : fires.length === 0 ? (
        <Empty title={hasCron ? "No fires in this range" : "No cron triggers"}>
          <p>
            {hasCron
              ? "Fires appear here as the scheduler makes them; widen the range or clear the outcome filter."
              : "Only cron triggers have a fire ledger; add one with UpdateDeployment (update_mask triggers)."}
          </p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table data-testid="fires">
            <thead>
              <tr>
                <th>Scheduled (jittered)</th>
                <th class="hide-narrow">Nominal</th>
                <th>Outcome</th>
                <th class="num hide-narrow">Late by</th>
                <th class="hide-narrow">Trigger</th>
                <th>Reason</th>
                <th>Execution</th>
              </tr>
            </thead>
            <tbody>
              {fires.map((f) => {
                const sched = ms(f.scheduledTime);
                const fired = ms(f.fireTime);
                return (
                  <tr key={`${f.triggerId}/${sched}`}>
                    <td class="nowrap" title={dateTime(sched)}>
                      {shortTime(sched, now)}
                    </td>
                    <td class="nowrap hide-narrow muted">{shortTime(ms(f.nominalTime), now)}</td>
                    <td>
                      <Badge tone={fireOutcomeTone(f.outcome)}>{fireOutcomeLabel(f.outcome)}</Badge>
                    </td>
                    <td class="num hide-narrow">
                      {sched !== undefined && fired !== undefined ? duration(Math.max(0, fired - sched)) : "—"}
                    </td>
                    <td class="hide-narrow">
                      <code>{f.triggerId}</code>
                    </td>
                    <td class="small">{f.reason || <span class="faint">—</span>}</td>
                    <td>
                      {f.executionId ? (
                        <a class="mono" href={href(`/executions/${f.executionId}`)}>
                          {shortId(f.executionId)}
                        </a>
                      ) : (
                        <span class="faint">—</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {(fires.length > 0 || tokens.length > 1) && (
        <Pager
          page={tokens.length}
          hasNext={!!q.data?.nextPageToken}
          onPrev={() => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t))}
          onNext={() => q.data?.nextPageToken && setTokens((t) => [...t, q.data!.nextPageToken])}
        >
          oldest first
        </Pager>
      )}
    </section>
  );
}
