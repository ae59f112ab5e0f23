// Execution history with the API's filters (workflow, status, trigger type, time range), paged
// by page tokens, and kept live while the first page is shown.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ExecutionStatus, TriggerType, type Execution } from "@workflow-runtime/sdk";
import { Badge, Empty, ErrorBox, LiveToggle, Loading, Pager, RelTime, Segmented } from "../components/ui";
import { useApp } from "../lib/app";
import { duration, fromLocalInput, fromMs, ms, shortId, toLocalInput } from "../lib/format";
import { useNow, useQuery, useStored } from "../lib/hooks";
import {
  executionStatusLabel,
  executionStatusName,
  executionStatuses,
  executionTone,
  isTerminal,
  triggerTypeLabel,
  triggerTypeName,
  triggerTypes,
} from "../lib/labels";
import { href, navigate, type Location, type QueryInit } from "../lib/router";
import { useExecutionWatch, type WatchMode } from "../lib/watch";

const pageSize = 50;
const presets = [
  { value: "15m", label: "15 min", ms: 15 * 60_000 },
  { value: "1h", label: "1 h", ms: 3_600_000 },
  { value: "24h", label: "24 h", ms: 86_400_000 },
  { value: "7d", label: "7 d", ms: 7 * 86_400_000 },
];

function enumList<T extends number>(names: string[], e: Record<string, string | number>): T[] {
  return names.map((n) => e[n]).filter((v): v is T => typeof v === "number" && v !== 0);
}

export function ExecutionsPage({ loc }: { loc: Location }) {
  const { client } = useApp();
  const now = useNow(1000);
  const workflow = loc.query.get("workflow") ?? "";
  const deployment = loc.query.get("deployment") ?? "";
  const statuses = enumList<ExecutionStatus>(loc.query.getAll("status"), ExecutionStatus);
  const triggers = enumList<TriggerType>(loc.query.getAll("trigger"), TriggerType);
  const range = loc.query.get("range") ?? "";
  const from = Number(loc.query.get("from")) || undefined;
  const to = Number(loc.query.get("to")) || undefined;
  const [live, setLive] = useStored("wfr.executions.live", true);
  const [tokens, setTokens] = useState<string[]>([""]);
  const [workflowInput, setWorkflowInput] = useState(workflow);
  useEffect(() => setWorkflowInput(workflow), [workflow]);

  const current: QueryInit = {
    workflow,
    deployment,
    status: statuses.map(executionStatusName),
    trigger: triggers.map(triggerTypeName),
    range,
    from: from ? String(from) : undefined,
    to: to ? String(to) : undefined,
  };
  const setFilter = (change: QueryInit) => navigate("/executions", { ...current, ...change }, true);
  const filterKey = JSON.stringify(current);
  useEffect(() => setTokens([""]), [filterKey]);
  const token = tokens[tokens.length - 1];
  const onFirstPage = tokens.length === 1;

  // Live: a deployment's executions stream (WatchExecutions); without a deployment, or from a
  // server without the stream, the first page is fetched again every 2 s.
  const [changes, setChanges] = useState<Map<string, Execution>>(() => new Map());
  useEffect(() => setChanges(new Map()), [filterKey, token]);
  const watch = useExecutionWatch(
    deployment ? { case: "deploymentId", value: deployment } : undefined,
    live && onFirstPage,
    (e) => setChanges((m) => new Map(m).set(e.id, e)),
  );
  const streaming = watch.mode === "streaming" || watch.mode === "connecting" || watch.mode === "retrying";

  const q = useQuery(
    (signal) => {
      const preset = presets.find((p) => p.value === range);
      const start = preset ? Date.now() - preset.ms : from;
      return client.getExecutionHistory(
        {
          workflowId: workflow,
          deploymentId: deployment,
          statuses,
          triggerTypes: triggers,
          startTime: start !== undefined ? fromMs(start) : undefined,
          endTime: !preset && to !== undefined ? fromMs(to) : undefined,
          pageSize,
          pageToken: token,
        },
        { signal },
      );
    },
    ["executions", filterKey, token],
    // While streaming, a slow refresh only as a safety net.
    { refreshMs: streaming ? 30_000 : 2000, paused: !live || !onFirstPage },
  );
  useEffect(() => {
    if (q.data) performance.mark("wfr:first-data:executions");
  }, [q.data]);
  const execs = useMemo(() => {
    const page = q.data?.executions;
    if (!page || changes.size === 0) return page;
    const preset = presets.find((p) => p.value === range);
    const start = preset ? Date.now() - preset.ms : from;
    const matches = (e: Execution) => {
      const created = ms(e.createTime) ?? 0;
      return (
        (!workflow || e.workflowId === workflow) &&
        (!deployment || e.deploymentId === deployment) &&
        (statuses.length === 0 || statuses.includes(e.status)) &&
        (triggers.length === 0 || triggers.includes(e.triggerType)) &&
        (start === undefined || created >= start) &&
        (preset || to === undefined || created < to)
      );
    };
    const byId = new Map(page.map((e) => [e.id, e]));
    const added: Execution[] = [];
    for (const e of changes.values()) {
      const shown = byId.get(e.id);
      if (!shown) added.push(e);
      else if ((ms(e.updateTime) ?? 0) >= (ms(shown.updateTime) ?? 0)) byId.set(e.id, e);
    }
    const newest = (a: Execution, b: Execution) => (ms(b.createTime) ?? 0) - (ms(a.createTime) ?? 0) || (a.id < b.id ? 1 : -1);
    return [...added.sort(newest), ...page.map((e) => byId.get(e.id)!)].filter(matches);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q.data, changes]);
  const filtered = workflow || deployment || statuses.length || triggers.length || range || from || to;

  return (
    <>
      <div class="page-head">
        <div>
          <h1>Executions</h1>
          <div class="sub">
            {workflow ? (
              <>
                of <a href={deployment ? href(`/deployments/${deployment}`) : href("/deployments")}>{workflow}</a> ·{" "}
              </>
            ) : deployment ? (
              <>of deployment {shortId(deployment)} · </>
            ) : null}
            newest first
          </div>
        </div>
        <LiveToggle
          live={live && onFirstPage}
          onToggle={() => setLive(!live)}
          updatedAt={streaming ? undefined : q.updatedAt}
          now={now}
          mode={live && onFirstPage ? liveMode(watch.mode) : undefined}
          problem={watch.mode === "retrying" ? watch.error : undefined}
        />
      </div>
      <div class="card">
        <div class="filters">
          <form
            class="field"
            onSubmit={(e) => {
              e.preventDefault();
              setFilter({ workflow: workflowInput.trim(), deployment: undefined });
            }}
          >
            <label for="wf-filter">Workflow id</label>
            <input
              id="wf-filter"
              type="search"
              data-search
              value={workflowInput}
              placeholder="any (press /)"
              onInput={(e) => setWorkflowInput((e.target as HTMLInputElement).value)}
              onBlur={() => workflowInput.trim() !== workflow && setFilter({ workflow: workflowInput.trim(), deployment: undefined })}
            />
          </form>
          <Segmented
            label="Status"
            options={executionStatuses.map((s) => ({ value: s, label: executionStatusLabel(s) }))}
            selected={statuses}
            multi
            onChange={(v) => setFilter({ status: v.map(executionStatusName) })}
          />
          <Segmented
            label="Trigger"
            options={triggerTypes.map((t) => ({ value: t, label: triggerTypeLabel(t) }))}
            selected={triggers}
            multi
            onChange={(v) => setFilter({ trigger: v.map(triggerTypeName) })}
          />
          <Segmented
            label="Created in the last"
            options={presets.map((p) => ({ value: p.value, label: p.label }))}
            selected={range ? [range] : []}
            allLabel="any time"
            onChange={(v) => setFilter({ range: v[0] ?? "", from: undefined, to: undefined })}
          />
          <label class="field">
            From
            <input
              type="datetime-local"
              value={from ? toLocalInput(from) : ""}
              onChange={(e) => setFilter({ from: String(fromLocalInput((e.target as HTMLInputElement).value) ?? ""), range: "" })}
            />
          </label>
          <label class="field">
            To
            <input
              type="datetime-local"
              value={to ? toLocalInput(to) : ""}
              onChange={(e) => setFilter({ to: String(fromLocalInput((e.target as HTMLInputElement).value) ?? ""), range: "" })}
            />
          </label>
          {filtered ? (
            <button class="small ghost" onClick={() => navigate("/executions", {}, true)}>
              Clear filters
            </button>
          ) : null}
        </div>
        {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} inline />}
        {q.loading && !execs ? (
          <Loading what="executions" />
        ) : execs && execs.length === 0 ? (
          filtered ? (
            <Empty title="No executions match these filters">
              <p>
                Widen the time range or <a href={href("/executions")}>clear the filters</a>.
              </p>
            </Empty>
          ) : (
            <Empty title="No executions yet">
              <p>
                Executions appear here when a cron trigger fires, a webhook arrives, or someone triggers a deployment.
                Open <a href={href("/deployments")}>Deployments</a> and press Trigger on one.
              </p>
            </Empty>
          )
        ) : execs ? (
          <ExecutionTable executions={execs} now={now} showWorkflow={!workflow} />
        ) : null}
        {execs && (execs.length > 0 || tokens.length > 1) && (
          <Pager
            page={tokens.length}
            hasNext={!!q.data?.nextPageToken}
            onPrev={() => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t))}
            onNext={() => q.data?.nextPageToken && setTokens((t) => [...t, q.data!.nextPageToken])}
          >
            {onFirstPage ? "" : "Live updates pause away from the first page."}
          </Pager>
        )}
      </div>
    </>
  );
}

function liveMode(m: WatchMode): string {
  switch (m) {
    case "streaming":
      return "streaming";
    case "connecting":
      return "connecting…";
    case "retrying":
      return "reconnecting…";
    default:
      return "refresh 2s";
  }
}

export function ExecutionTable({ executions, now, showWorkflow }: { executions: Execution[]; now: number; showWorkflow: boolean }) {
  return (
    <div class="table-wrap">
      <table data-testid="executions">
        <thead>
          <tr>
            <th>Execution</th>
            {showWorkflow && <th>Workflow</th>}
            <th>Status</th>
            <th class="hide-narrow">Trigger</th>
            <th>Created</th>
            <th class="num hide-narrow">Duration</th>
            <th class="num hide-narrow">Attempt</th>
          </tr>
        </thead>
        <tbody>
          {executions.map((e) => {
            const s = ms(e.startTime);
            const f = ms(e.finishTime);
            const running = !isTerminal(e.status);
            return (
              <tr key={e.id} data-execution={e.id} data-status={executionStatusName(e.status)}>
                <td>
                  <a class="mono" href={href(`/executions/${e.id}`)} title={e.id}>
                    {shortId(e.id)}
                  </a>
                </td>
                {showWorkflow && (
                  <td>
                    <a href={href(`/deployments/${e.deploymentId}`)}>{e.workflowId}</a>
                    <span class="faint small"> r{e.revision}</span>
                  </td>
                )}
                <td>
                  <Badge tone={executionTone(e.status)} live={e.status === ExecutionStatus.RUNNING}>
                    {executionStatusLabel(e.status)}
                  </Badge>
                </td>
                <td class="hide-narrow">
                  {triggerTypeLabel(e.triggerType)}
                  {e.triggerId && <span class="faint small"> {e.triggerId}</span>}
                </td>
                <td class="nowrap">
                  <RelTime at={ms(e.createTime)} now={now} />
                </td>
                <td class="num nowrap hide-narrow">
                  {s === undefined ? <span class="faint">—</span> : running ? <span>{duration(now - s)}…</span> : duration((f ?? s) - s)}
                </td>
                <td class="num hide-narrow">{e.attempt || <span class="faint">—</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
