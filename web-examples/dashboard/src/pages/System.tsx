// System: the service's health, its dependencies and instances, and counts of deployments and
// executions by status.
import { DeploymentStatus, ExecutionStatus, TriggerType } from "@workflow-runtime/sdk";
import { Badge, Empty, ErrorBox, LiveToggle, Loading, RelTime, Stat } from "../components/ui";
import { useApp } from "../lib/app";
import { count, dateTime, dur, fromMs, ms } from "../lib/format";
import { useNow, useQuery, useStored } from "../lib/hooks";
import {
  deploymentStatusLabel,
  deploymentStatusName,
  executionStatusLabel,
  executionStatusName,
  executionTone,
  triggerTypeLabel,
} from "../lib/labels";
import { href } from "../lib/router";

export function SystemPage() {
  const { client } = useApp();
  const now = useNow(1000);
  const [live, setLive] = useStored("wfr.system.live", true);
  const health = useQuery((signal) => client.getSystemHealth({}, { signal }), ["health"], { refreshMs: 5000, paused: !live });
  const stats = useQuery(
    (signal) => {
      const end = Date.now();
      return client.getDeploymentStats({ startTime: fromMs(end - 86_400_000), endTime: fromMs(end) }, { signal });
    },
    ["stats-all"],
    { refreshMs: 15_000, paused: !live },
  );
  const h = health.data;
  const s = stats.data;
  const byDeployment = new Map((s?.deploymentsByStatus ?? []).map((c) => [c.status, c.count]));
  const byExecution = new Map((s?.executionsByStatus ?? []).map((c) => [c.status, c.count]));
  const byTrigger = new Map((s?.executionsByTriggerType ?? []).map((c) => [c.triggerType, c.count]));
  const totalExecutions = [...byExecution.values()].reduce((a, b) => a + Number(b), 0);

  return (
    <>
      <div class="page-head">
        <div>
          <h1>
            System
            {h && (
              <Badge tone={h.status === "healthy" ? "ok" : "err"}>
                <span data-testid="system-status">{h.status}</span>
              </Badge>
            )}
          </h1>
          <div class="sub">
            {h ? (
              <>
                version <code>{h.version}</code> · checked <RelTime at={ms(h.timestamp)} now={now} />
              </>
            ) : (
              "The service, its dependencies and its instances."
            )}
          </div>
        </div>
        <LiveToggle live={live} onToggle={() => setLive(!live)} updatedAt={health.updatedAt} now={now} mode="5s" />
      </div>
      {health.error !== undefined && <ErrorBox error={health.error} onRetry={health.reload} />}
      <div class="grid">
        <section class="card" aria-labelledby="deps-h">
          <h2 id="deps-h">Dependencies</h2>
          {!h ? (
            <Loading what="health" />
          ) : h.dependencies.length === 0 ? (
            <Empty title="No dependencies reported" />
          ) : (
            <div class="table-wrap">
              <table data-testid="dependencies">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Status</th>
                    <th class="num">Latency</th>
                    <th>Error</th>
                  </tr>
                </thead>
                <tbody>
                  {h.dependencies.map((d) => (
                    <tr key={d.name}>
                      <td>
                        <code>{d.name}</code>
                      </td>
                      <td>
                        <Badge tone={d.status === "healthy" ? "ok" : "err"}>{d.status}</Badge>
                      </td>
                      <td class="num">{dur(d.latency)}</td>
                      <td class="small">{d.error || <span class="faint">—</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section class="card" aria-labelledby="inst-h">
          <div class="card-head">
            <h2 id="inst-h">Instances</h2>
            <span class="small muted">{h ? `${h.instances.length} live, by role` : ""}</span>
          </div>
          {!h ? (
            <Loading what="instances" />
          ) : h.instances.length === 0 ? (
            <Empty title="No instances listed">
              <p>Instances appear here as they register in the instance registry (every process heartbeats in it).</p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table data-testid="instances">
                <thead>
                  <tr>
                    <th>Instance</th>
                    <th>Role</th>
                    <th class="hide-narrow">Version</th>
                    <th>Worker slots</th>
                    <th class="hide-narrow">Started</th>
                    <th>Heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  {h.instances.map((i) => (
                    <tr key={i.id}>
                      <td>
                        <div class="mono small">{i.id}</div>
                        {i.address && <div class="small muted">{i.address}</div>}
                      </td>
                      <td>
                        <Badge tone="info">{i.role}</Badge>
                      </td>
                      <td class="hide-narrow">
                        <code>{i.version}</code>
                      </td>
                      <td>
                        {i.slotCapacity > 0 ? (
                          <div title={`${i.slotsInUse} of ${i.slotCapacity} executions running`}>
                            <div class="small">
                              {i.slotsInUse} / {i.slotCapacity}
                            </div>
                            <div class="bar">
                              <span style={{ width: `${Math.min(100, (100 * i.slotsInUse) / i.slotCapacity)}%` }} />
                            </div>
                          </div>
                        ) : (
                          <span class="faint">no worker</span>
                        )}
                      </td>
                      <td class="nowrap hide-narrow" title={dateTime(ms(i.startTime))}>
                        <RelTime at={ms(i.startTime)} now={now} />
                      </td>
                      <td class="nowrap" title={dateTime(ms(i.lastHeartbeat))}>
                        <RelTime at={ms(i.lastHeartbeat)} now={now} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      </div>
      <h2 style={{ fontSize: "15px", margin: "8px 0" }}>Deployments</h2>
      {stats.error !== undefined && <ErrorBox error={stats.error} onRetry={stats.reload} />}
      <div class="stats">
        {[DeploymentStatus.DEPLOYED, DeploymentStatus.PAUSED, DeploymentStatus.DRAFT, DeploymentStatus.ARCHIVED].map((st) => (
          <Stat
            key={st}
            label={deploymentStatusLabel(st)}
            value={<a href={href("/deployments", { status: deploymentStatusName(st) })}>{s ? count(byDeployment.get(st) ?? 0n) : "…"}</a>}
          />
        ))}
      </div>
      <h2 style={{ fontSize: "15px", margin: "8px 0" }}>Executions, last 24 h</h2>
      <div class="stats">
        <Stat label="Total" value={s ? count(totalExecutions) : "…"} hint={[TriggerType.CRON, TriggerType.WEBHOOK, TriggerType.MANUAL].map((t) => `${triggerTypeLabel(t)} ${count(byTrigger.get(t) ?? 0n)}`).join(" · ")} />
        {[
          ExecutionStatus.SUCCEEDED,
          ExecutionStatus.FAILED,
          ExecutionStatus.TIMED_OUT,
          ExecutionStatus.RUNNING,
          ExecutionStatus.PENDING,
          ExecutionStatus.CANCELLED,
          ExecutionStatus.SKIPPED,
        ].map((st) => {
          const tone = executionTone(st);
          return (
            <Stat
              key={st}
              label={executionStatusLabel(st)}
              tone={tone === "ok" || tone === "err" || tone === "warn" ? tone : undefined}
              value={
                <a href={href("/executions", { status: executionStatusName(st), range: "24h" })} style={{ color: "inherit" }}>
                  {s ? count(byExecution.get(st) ?? 0n) : "…"}
                </a>
              }
            />
          );
        })}
      </div>
    </>
  );
}
