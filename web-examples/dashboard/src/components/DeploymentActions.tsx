// Trigger, pause or resume, and delete a deployment: the same buttons in the list and on the
// detail page, each asking before what cannot be undone.
import { useState } from "preact/hooks";
import { DeploymentStatus, type Deployment } from "@workflow-runtime/sdk";
import { useApp } from "../lib/app";
import { ConfirmDialog } from "./Dialog";
import { TriggerDialog } from "./TriggerDialog";

export function DeploymentActions({
  deployment: d,
  onChanged,
  small,
}: {
  deployment: Deployment;
  onChanged: () => void;
  small?: boolean;
}) {
  const { client, toast } = useApp();
  const [open, setOpen] = useState<"trigger" | "pause" | "resume" | "delete" | null>(null);
  const cls = small ? "small" : "";
  const setStatus = async (status: DeploymentStatus) => {
    await client.updateDeployment({ deploymentId: d.id, status, updateMask: { paths: ["status"] } });
    toast({ kind: "ok", text: `${d.workflowId} ${status === DeploymentStatus.PAUSED ? "paused" : "resumed"}.` });
    onChanged();
  };
  const live = d.status !== DeploymentStatus.ARCHIVED;
  return (
    <span class="actions" style={small ? { justifyContent: "flex-end" } : undefined}>
      {d.status === DeploymentStatus.DEPLOYED && (
        <button class={small ? cls : "primary"} onClick={() => setOpen("trigger")} aria-label={`Trigger ${d.workflowId}`}>
          ▶ Trigger
        </button>
      )}
      {d.status === DeploymentStatus.DEPLOYED && (
        <button class={cls} onClick={() => setOpen("pause")} aria-label={`Pause ${d.workflowId}`}>
          Pause
        </button>
      )}
      {(d.status === DeploymentStatus.PAUSED || d.status === DeploymentStatus.DRAFT) && (
        <button class={cls} onClick={() => setOpen("resume")} aria-label={`${d.status === DeploymentStatus.DRAFT ? "Deploy" : "Resume"} ${d.workflowId}`}>
          {d.status === DeploymentStatus.DRAFT ? "Deploy" : "Resume"}
        </button>
      )}
      {live && (
        <button class={`${cls} danger`} onClick={() => setOpen("delete")} aria-label={`Delete ${d.workflowId}`}>
          Delete
        </button>
      )}
      {open === "trigger" && <TriggerDialog workflowId={d.workflowId} onClose={() => setOpen(null)} />}
      {open === "pause" && (
        <ConfirmDialog
          title={`Pause ${d.workflowId}?`}
          confirmLabel="Pause"
          action={() => setStatus(DeploymentStatus.PAUSED)}
          onClose={() => setOpen(null)}
        >
          <p>
            Its cron triggers stop firing and TriggerWorkflow refuses it until it is resumed. Executions already
            queued or running go on.
          </p>
        </ConfirmDialog>
      )}
      {open === "resume" && (
        <ConfirmDialog
          title={`${d.status === DeploymentStatus.DRAFT ? "Deploy" : "Resume"} ${d.workflowId}?`}
          confirmLabel={d.status === DeploymentStatus.DRAFT ? "Deploy" : "Resume"}
          action={() => setStatus(DeploymentStatus.DEPLOYED)}
          onClose={() => setOpen(null)}
        >
          <p>Its cron triggers fire again from their next time; times missed while paused are not made up.</p>
        </ConfirmDialog>
      )}
      {open === "delete" && (
        <ConfirmDialog
          title={`Delete ${d.workflowId}?`}
          confirmLabel="Delete deployment"
          danger
          action={async () => {
            await client.deleteDeployment({ deploymentId: d.id });
            toast({ kind: "ok", text: `${d.workflowId} deleted (archived; its history is kept).` });
            onChanged();
          }}
          onClose={() => setOpen(null)}
        >
          <p>
            The deployment is archived: its triggers are removed and nothing fires it any more. Its executions and fire
            ledger are kept. Only deploying the workflow again brings it back.
          </p>
        </ConfirmDialog>
      )}
    </span>
  );
}
