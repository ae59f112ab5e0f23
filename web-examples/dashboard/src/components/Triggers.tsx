// A deployment's triggers as compact chips: cron with its zone, jitter window and offset; webhook
// with its path.
import type { Trigger, TriggerPreview } from "@workflow-runtime/sdk";
import { dur } from "../lib/format";

export function jitterWindow(t: Trigger): number | undefined {
  return t.kind.case === "cron" ? (t.kind.value.jitterWindowSeconds ?? 300) : undefined;
}

export function TriggerChips({ triggers, previews }: { triggers: Trigger[]; previews?: TriggerPreview[] }) {
  if (triggers.length === 0) return <span class="faint">none</span>;
  return (
    <div class="trig">
      {triggers.map((t) => {
        if (t.kind.case === "cron") {
          const c = t.kind.value;
          const p = previews?.find((x) => x.triggerId === t.id);
          const win = jitterWindow(t) ?? 300;
          return (
            <span class="chip" key={t.id} title={`trigger ${t.id}`}>
              <b>cron</b>
              <code>{c.expression}</code>
              <span class="muted">{c.timezone || "UTC"}</span>
              <span class="muted" title="jitter offset (window)">
                {win === 0 ? "no jitter" : p ? `+${dur(p.offset)} of ${win}s` : `≤${win}s`}
              </span>
            </span>
          );
        }
        if (t.kind.case === "webhook") {
          return (
            <span class="chip" key={t.id} title={`trigger ${t.id}`}>
              <b>webhook</b>
              <code>{t.kind.value.path}</code>
              {t.kind.value.hasSecret && <span class="muted">signed</span>}
            </span>
          );
        }
        return (
          <span class="chip" key={t.id}>
            {t.id}
          </span>
        );
      })}
    </div>
  );
}
