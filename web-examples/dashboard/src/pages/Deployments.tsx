// Deployments: every deployment with its status, revision, triggers and next fire; filter by
// status; trigger, pause, resume and delete.
import { useEffect, useMemo, useState } from "preact/hooks";
import { DeploymentStatus, type Deployment, type GetDeploymentStatusResponse } from "@workflow-runtime/sdk";
import { DeploymentActions } from "../components/DeploymentActions";
import { TriggerChips } from "../components/Triggers";
import { Badge, Empty, ErrorBox, Loading, Pager, RelTime, Segmented } from "../components/ui";
import { useApp } from "../lib/app";
import { ms } from "../lib/format";
import { useNow, useQuery } from "../lib/hooks";
import { deploymentStatusLabel, deploymentStatusName, deploymentStatuses, deploymentTone } from "../lib/labels";
import { limiter } from "../lib/limit";
import { href, navigate, type Location } from "../lib/router";

const pageSize = 50;
const previewLimit = limiter(4);

/** The next fire of a deployment's cron triggers, loaded per row. */
function usePreviews(deployments: Deployment[] | undefined) {
  const { client } = useApp();
  const [previews, setPreviews] = useState<Record<string, GetDeploymentStatusResponse>>({});
  useEffect(() => {
    if (!deployments) return;
    const ctrl = new AbortController();
    for (const d of deployments) {
      const hasCron = d.triggers.some((t) => t.kind.case === "cron");
      if (!hasCron || d.status === DeploymentStatus.ARCHIVED) continue;
      void previewLimit(async () => {
        if (ctrl.signal.aborted) return;
        try {
          const res = await client.getDeploymentStatus(
            { ref: { case: "deploymentId", value: d.id } },
            { signal: ctrl.signal },
          );
          if (!ctrl.signal.aborted) setPreviews((p) => ({ ...p, [d.id]: res }));
        } catch {
          /* the row shows no next fire; the list itself reports errors */
        }
      });
    }
    return () => ctrl.abort();
  }, [deployments, client]);
  return previews;
}

function nextFire(res: GetDeploymentStatusResponse | undefined): number | undefined {
  let best: number | undefined;
  for (const p of res?.triggerPreviews ?? []) {
    const t = ms(p.fires[0]?.scheduledTime);
    if (t !== undefined && (best === undefined || t < best)) best = t;
  }
  return best;
}

export function DeploymentsPage({ loc }: { loc: Location }) {
  const { client, settings } = useApp();
  const now = useNow(5000);
  const statuses = loc.query
    .getAll("status")
    .map((s) => DeploymentStatus[s as keyof typeof DeploymentStatus])
    .filter((s): s is DeploymentStatus => typeof s === "number" && s !== DeploymentStatus.UNSPECIFIED);
  const [tokens, setTokens] = useState<string[]>([""]);
  const [filter, setFilter] = useState("");
  const statusKey = statuses.join(",");
  useEffect(() => setTokens([""]), [statusKey]);
  const token = tokens[tokens.length - 1];

  const q = useQuery(
    (signal) => client.listDeployments({ statuses, pageSize, pageToken: token }, { signal }),
    ["deployments", statusKey, token],
    { refreshMs: 15_000 },
  );
  useEffect(() => {
    if (q.data) performance.mark("wfr:first-data:deployments");
  }, [q.data]);
  const deployments = q.data?.deployments;
  const previews = usePreviews(deployments);
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    if (!f || !deployments) return deployments;
    return deployments.filter(
      (d) => d.workflowId.includes(f) || (d.definition?.name ?? "").toLowerCase().includes(f),
    );
  }, [deployments, filter]);

  return (
    <>
      <div class="page-head">
        <div>
          <h1>Deployments</h1>
          <div class="sub">Workflows the runtime runs: their triggers, state and next fire.</div>
        </div>
      </div>
      <div class="card">
        <div class="filters">
          <Segmented
            label="Status"
            options={deploymentStatuses.map((s) => ({ value: s, label: deploymentStatusLabel(s) }))}
            selected={statuses}
            multi
            onChange={(v) => navigate("/deployments", { status: v.map(deploymentStatusName) }, true)}
          />
          <label class="field">
            Filter this page
            <input
              type="search"
              data-search
              placeholder="workflow id or name (press /)"
              value={filter}
              onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
            />
          </label>
        </div>
        {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} inline />}
        {q.loading && !deployments ? (
          <Loading what="deployments" />
        ) : deployments && deployments.length === 0 ? (
          statuses.length > 0 ? (
            <Empty title="No deployment in this status">
              <p>
                Choose <a href={href("/deployments")}>All</a> to see every deployment.
              </p>
            </Empty>
          ) : (
            <Empty title="No deployments yet">
              <p>Deploy a workflow and it shows up here, with its triggers and next fire times:</p>
              <pre class="block">{`workflow-runtime deploy -f workflow.yaml
# or over HTTP, with the example of the repository:
curl -H 'Content-Type: application/json' -d @examples/deploy.json \\
  ${settings.baseUrl}/workflowruntime.v1.WorkflowRuntimeService/DeployWorkflow`}</pre>
            </Empty>
          )
        ) : shown ? (
          <div class="table-wrap">
            <table data-testid="deployments">
              <thead>
                <tr>
                  <th>Workflow</th>
                  <th>Status</th>
                  <th class="num hide-narrow">Rev</th>
                  <th class="hide-narrow">Triggers</th>
                  <th>Next fire</th>
                  <th class="hide-narrow">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((d) => {
                  const next = nextFire(previews[d.id]);
                  const hasCron = d.triggers.some((t) => t.kind.case === "cron");
                  return (
                    <tr key={d.id} data-workflow={d.workflowId}>
                      <td class="wf">
                        <a href={href(`/deployments/${d.id}`)}>
                          <strong>{d.workflowId}</strong>
                        </a>
                        {d.definition?.name && d.definition.name !== d.workflowId && (
                          <div class="small muted">{d.definition.name}</div>
                        )}
                      </td>
                      <td>
                        <Badge tone={deploymentTone(d.status)}>{deploymentStatusLabel(d.status)}</Badge>
                      </td>
                      <td class="num hide-narrow">{d.revision}</td>
                      <td class="hide-narrow">
                        <TriggerChips triggers={d.triggers} previews={previews[d.id]?.triggerPreviews} />
                      </td>
                      <td class="nowrap">
                        {d.status === DeploymentStatus.ARCHIVED ? (
                          <span class="faint">—</span>
                        ) : !hasCron ? (
                          <span class="faint">on demand</span>
                        ) : next === undefined ? (
                          previews[d.id] ? (
                            <span class="faint">none</span>
                          ) : (
                            <span class="skeleton" aria-label="loading" />
                          )
                        ) : d.status === DeploymentStatus.DEPLOYED ? (
                          <RelTime at={next} now={now} />
                        ) : (
                          <span class="faint" title="would fire then once resumed">
                            paused
                          </span>
                        )}
                      </td>
                      <td class="actions-cell hide-narrow">
                        <DeploymentActions deployment={d} onChanged={q.reload} small />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {shown.length === 0 && <Empty title={`Nothing on this page matches “${filter}”`} />}
          </div>
        ) : null}
        {deployments && (deployments.length > 0 || tokens.length > 1) && (
          <Pager
            page={tokens.length}
            hasNext={!!q.data?.nextPageToken}
            onPrev={() => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t))}
            onNext={() => q.data?.nextPageToken && setTokens((t) => [...t, q.data!.nextPageToken])}
          >
            {deployments.length} on this page
          </Pager>
        )}
      </div>
    </>
  );
}
