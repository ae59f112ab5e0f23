// An execution's life on one axis: scheduled and created, waiting in the queue, running, finished.
import { useEffect, useRef, useState } from "preact/hooks";
import { duration, shortTime } from "../lib/format";

export interface TimelineProps {
  scheduled?: number;
  created?: number;
  started?: number;
  finished?: number;
  now: number;
  /** ok, err or "" for the run segment's colour. */
  tone: "ok" | "err" | "";
}

export function Timeline({ scheduled, created, started, finished, now, tone }: TimelineProps) {
  // Drawn at the width it is shown at, so its text keeps its size on a phone.
  const box = useRef<HTMLDivElement>(null);
  const [W, setW] = useState(800);
  const none = [scheduled, created, started, finished].every((v) => v === undefined);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setW(Math.max(280, Math.round(el.clientWidth))));
    ro.observe(el);
    return () => ro.disconnect();
  }, [none]);
  const points = [scheduled, created, started, finished].filter((v): v is number => v !== undefined);
  if (points.length === 0)
    return (
      <div ref={box}>
        <p class="muted">No times recorded yet.</p>
      </div>
    );
  const t0 = Math.min(...points);
  const end = finished ?? (started !== undefined ? now : Math.max(...points, now));
  const span = Math.max(end - t0, 1);
  const left = 10;
  const right = W - 10;
  const X = (t: number) => left + ((t - t0) / span) * (right - left);
  const waitFrom = created ?? scheduled;
  const marks: { t: number; label: string }[] = [];
  if (scheduled !== undefined) marks.push({ t: scheduled, label: "scheduled" });
  if (created !== undefined && (scheduled === undefined || Math.abs(created - scheduled) > span / 50))
    marks.push({ t: created, label: "created" });
  if (started !== undefined) marks.push({ t: started, label: "started" });
  if (finished !== undefined) marks.push({ t: finished, label: "finished" });
  // Labels that would overlap go to a second row.
  const rows: number[] = [];
  let lastX = -Infinity;
  let row = 0;
  for (const m of marks) {
    const x = X(m.t);
    row = x - lastX < 120 ? (row + 1) % 2 : 0;
    rows.push(row);
    lastX = x;
  }
  const summary = [
    waitFrom !== undefined && started !== undefined ? `waited ${duration(started - waitFrom)}` : undefined,
    started !== undefined ? `${finished !== undefined ? "ran" : "running for"} ${duration((finished ?? now) - started)}` : undefined,
  ]
    .filter(Boolean)
    .join(", ");
  return (
    <div class="timeline" ref={box}>
      <svg viewBox={`0 0 ${W} 92`} role="img" aria-label={`Timeline: ${summary || "not started"}`} data-testid="timeline">
        <line class="axis" x1={left} x2={right} y1="30" y2="30" />
        {waitFrom !== undefined && (
          <rect class="seg-wait" x={X(waitFrom)} y="20" width={Math.max(2, X(started ?? now) - X(waitFrom))} height="20" rx="3">
            <title>queued {duration((started ?? now) - waitFrom)}</title>
          </rect>
        )}
        {started !== undefined && (
          <rect class={`seg-run ${tone}`} x={X(started)} y="20" width={Math.max(2, X(finished ?? now) - X(started))} height="20" rx="3">
            <title>ran {duration((finished ?? now) - started)}</title>
          </rect>
        )}
        {marks.map((m, i) => {
          const x = X(m.t);
          const anchor = x > W - 90 ? "end" : x < 90 ? "start" : "middle";
          const y = 58 + rows[i] * 16;
          return (
            <g key={m.label}>
              <line class="mark" x1={x} x2={x} y1="14" y2={y - 10} />
              <text x={x} y={y} text-anchor={anchor}>
                {m.label} {shortTime(m.t, now)}
              </text>
            </g>
          );
        })}
      </svg>
      <div class="legend">
        <span>
          <span class="swatch" style={{ background: "var(--warn)" }} />
          queued{waitFrom !== undefined ? ` ${duration((started ?? now) - waitFrom)}` : ""}
        </span>
        {started !== undefined && (
          <span>
            <span class="swatch" style={{ background: tone === "err" ? "var(--err)" : tone === "ok" ? "var(--ok)" : "var(--info)" }} />
            {finished !== undefined ? "ran" : "running"} {duration((finished ?? now) - started)}
          </span>
        )}
      </div>
    </div>
  );
}
