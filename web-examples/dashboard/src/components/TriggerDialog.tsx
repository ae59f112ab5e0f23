// Triggers a deployment by workflow id with a JSON input, checked with JSON.parse before it is sent.
import { useMemo, useRef, useState } from "preact/hooks";
import { useApp } from "../lib/app";
import { shortId } from "../lib/format";
import { useStored } from "../lib/hooks";
import { href } from "../lib/router";
import { Dialog } from "./Dialog";
import { ErrorBox } from "./ui";

export type JsonCheck = { ok: true; empty: boolean } | { ok: false; message: string };

/** Whether text is a JSON document (empty text is no input, which the API accepts). */
export function checkJson(text: string): JsonCheck {
  if (text.trim() === "") return { ok: true, empty: true };
  try {
    JSON.parse(text);
    return { ok: true, empty: false };
  } catch (err) {
    let message = err instanceof Error ? err.message : String(err);
    const m = /at position (\d+)/.exec(message);
    if (m && !/line \d+/.test(message)) {
      const before = text.slice(0, Number(m[1]));
      const line = before.split("\n").length;
      const col = before.length - before.lastIndexOf("\n");
      message += ` (line ${line}, column ${col})`;
    }
    return { ok: false, message };
  }
}

export function TriggerDialog({ workflowId, onClose }: { workflowId: string; onClose: () => void }) {
  const { client, toast } = useApp();
  const [text, setText] = useStored(`wfr.trigger-input.${workflowId}`, "{\n  \n}");
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [submitted, setSubmitted] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const check = useMemo(() => checkJson(text), [text]);
  const showInvalid = !check.ok && submitted;

  const submit = async () => {
    setSubmitted(true);
    setError(undefined);
    if (!check.ok) {
      area.current?.focus();
      return;
    }
    setBusy(true);
    try {
      const res = await client.triggerWorkflow({
        target: { case: "workflowId", value: workflowId },
        triggerData: check.empty ? "" : text,
        idempotencyKey: key.trim(),
      });
      const ex = res.execution;
      toast({
        kind: "ok",
        text: res.deduplicated
          ? `${workflowId}: this idempotency key was used before; execution ${shortId(ex?.id ?? "")} is the first one.`
          : `Triggered ${workflowId}: execution ${shortId(ex?.id ?? "")}`,
        href: ex ? href(`/executions/${ex.id}`) : undefined,
        linkText: "Open",
      });
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <Dialog
      title={`Trigger ${workflowId}`}
      onClose={onClose}
      wide
      footer={
        <>
          <span class="small faint" style={{ marginRight: "auto", alignSelf: "center" }}>
            <kbd>Ctrl</kbd> + <kbd>Enter</kbd> sends
          </span>
          <button onClick={onClose}>Cancel</button>
          <button class="primary" onClick={submit} disabled={busy}>
            {busy ? "Triggering…" : "Trigger"}
          </button>
        </>
      }
    >
      <label class="field" for="trigger-input">
        Input (JSON, the execution's trigger data; empty for none)
      </label>
      <textarea
        id="trigger-input"
        ref={area}
        class="code"
        spellcheck={false}
        autofocus
        value={text}
        aria-invalid={!check.ok}
        aria-describedby="trigger-input-status"
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void submit();
          } else if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey) {
            // Tab indents inside the editor; Escape then Tab leaves it.
            const t = e.target as HTMLTextAreaElement;
            if (t.dataset.escaped === "1") {
              t.dataset.escaped = "";
              return;
            }
            e.preventDefault();
            const { selectionStart: s, selectionEnd: end, value } = t;
            const next = `${value.slice(0, s)}  ${value.slice(end)}`;
            setText(next);
            requestAnimationFrame(() => t.setSelectionRange(s + 2, s + 2));
          } else if (e.key === "Escape") {
            (e.target as HTMLTextAreaElement).dataset.escaped = "1";
          }
        }}
      />
      <div
        id="trigger-input-status"
        class={`json-status ${check.ok ? "ok" : "err"}`}
        role={showInvalid ? "alert" : undefined}
        aria-live="polite"
      >
        {check.ok ? (
          check.empty ? (
            "No input: the execution gets none."
          ) : (
            "Valid JSON."
          )
        ) : (
          <>
            {showInvalid ? "Not sent: the input is not valid JSON. " : "Not valid JSON yet: "}
            {check.message}
          </>
        )}
      </div>
      <div class="field-row">
        <button
          class="small"
          type="button"
          disabled={!check.ok || check.empty}
          onClick={() => setText(JSON.stringify(JSON.parse(text), null, 2))}
        >
          Format
        </button>
      </div>
      <label class="field">
        Idempotency key (optional: a repeat with the same key returns the first execution)
        <input value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} placeholder="e.g. order-1234" />
      </label>
      {error !== undefined && <ErrorBox error={error} />}
    </Dialog>
  );
}
