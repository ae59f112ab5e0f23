// Small building blocks shared by the pages.
import type { ComponentChildren } from "preact";
import { describeError } from "../lib/api";
import { dateTime, relative } from "../lib/format";
import type { Tone } from "../lib/labels";

export function Badge({ tone, children, live }: { tone: Tone; children: ComponentChildren; live?: boolean }) {
  return <span class={`badge ${tone}${live ? " live" : ""}`}>{children}</span>;
}

/** A time as "3m ago", with the local date and time on hover and for screen readers. */
export function RelTime({ at, now }: { at: number | undefined; now: number }) {
  if (at === undefined) return <span class="faint">—</span>;
  return (
    <time dateTime={new Date(at).toISOString()} title={dateTime(at)}>
      {relative(at, now)}
    </time>
  );
}

/** A call's error in words: what happened, what to do, and the fields that broke a rule. */
export function ErrorBox({ error, onRetry, inline }: { error: unknown; onRetry?: () => void; inline?: boolean }) {
  const p = describeError(error);
  return (
    <div class={`alert${inline ? " inline" : ""}`} role="alert">
      <div class="alert-title">
        <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
          <circle cx="8" cy="8" r="7" fill="none" stroke="currentColor" stroke-width="1.6" />
          <path d="M8 4.5v4.2M8 10.8v.4" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" />
        </svg>
        {p.title}
        {p.code && <code class="faint">{p.code}</code>}
      </div>
      {p.message && <p class="error-message">{p.message}</p>}
      {p.violations.length > 0 && (
        <div class="table-wrap">
          <table class="violations">
            <thead>
              <tr>
                <th>Field</th>
                <th>Problem</th>
                <th>Rule</th>
              </tr>
            </thead>
            <tbody>
              {p.violations.map((v) => (
                <tr key={`${v.field}/${v.rule}`}>
                  <td>
                    <code>{v.field || "(request)"}</code>
                  </td>
                  <td>{v.message}</td>
                  <td>
                    <code class="faint">{v.rule}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {p.hint && <p class="hint">{p.hint}</p>}
      {onRetry && (
        <p>
          <button class="small" onClick={onRetry}>
            Try again
          </button>
        </p>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h3>{title}</h3>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div class="loading" role="status" aria-live="polite">
      Loading {what}…
    </div>
  );
}

export function Stat({
  label,
  value,
  hint,
  tone,
}: {
  label: string;
  value: ComponentChildren;
  hint?: ComponentChildren;
  tone?: "ok" | "err" | "warn";
}) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class={`stat-value${tone ? ` ${tone}` : ""}`}>{value}</div>
      {hint && <div class="stat-hint">{hint}</div>}
    </div>
  );
}

/** Previous/next over page tokens (the API pages forward; the pages seen are kept for "previous"). */
export function Pager({
  page,
  hasNext,
  onPrev,
  onNext,
  children,
}: {
  page: number;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  children?: ComponentChildren;
}) {
  return (
    <div class="toolbar">
      <span>{children}</span>
      <span class="actions">
        <span>Page {page}</span>
        <button class="small" onClick={onPrev} disabled={page <= 1} aria-label="Previous page" title="Previous page ([)">
          ← Prev
        </button>
        <button class="small" onClick={onNext} disabled={!hasNext} aria-label="Next page" title="Next page (])">
          Next →
        </button>
      </span>
    </div>
  );
}

/** The live/paused switch of a refreshing view, with when it last got data. */
export function LiveToggle({
  live,
  onToggle,
  updatedAt,
  now,
  mode,
  problem,
}: {
  live: boolean;
  onToggle: () => void;
  updatedAt?: number;
  now: number;
  mode?: string;
  /** Why live updates are interrupted, shown on hover. */
  problem?: unknown;
}) {
  const p = problem === undefined ? undefined : describeError(problem);
  return (
    <span class="live" data-testid="live">
      {live ? (
        <span title={p ? `${p.title}: ${p.message}` : undefined}>
          <Badge tone={p ? "warn" : "ok"} live>
            Live{mode ? ` · ${mode}` : ""}
          </Badge>
        </span>
      ) : (
        <Badge tone="">Paused</Badge>
      )}
      {updatedAt !== undefined && <span class="small">updated {relative(updatedAt, now)}</span>}
      <button class="small" onClick={onToggle} aria-pressed={!live} title="Pause or resume live updates (p)">
        {live ? "Pause" : "Resume"}
      </button>
    </span>
  );
}

/** A row of toggle buttons; selected holds the chosen values (none: all). */
export function Segmented<T extends string | number>({
  label,
  options,
  selected,
  onChange,
  multi,
  allLabel = "All",
  required,
}: {
  label: string;
  options: { value: T; label: string }[];
  selected: T[];
  onChange: (v: T[]) => void;
  multi?: boolean;
  allLabel?: string;
  /** One option is always chosen: no "All" button, and a chosen one stays chosen when pressed. */
  required?: boolean;
}) {
  return (
    <div class="field">
      <span id={`seg-${label}`}>{label}</span>
      <div class="seg" role="group" aria-labelledby={`seg-${label}`}>
        {!required && (
          <button type="button" aria-pressed={selected.length === 0} onClick={() => onChange([])}>
            {allLabel}
          </button>
        )}
        {options.map((o) => {
          const on = selected.includes(o.value);
          return (
            <button
              type="button"
              key={String(o.value)}
              aria-pressed={on}
              onClick={() => {
                if (required) onChange([o.value]);
                else if (!multi) onChange(on ? [] : [o.value]);
                else onChange(on ? selected.filter((v) => v !== o.value) : [...selected, o.value]);
              }}
            >
              {o.label}
            </button>
          );
        })}
      </div>
    </div>
  );
}

export function Icon({ name }: { name: "deployments" | "executions" | "scheduling" | "system" | "settings" | "theme" | "keys" }) {
  const common = {
    width: 18,
    height: 18,
    viewBox: "0 0 24 24",
    fill: "none",
    stroke: "currentColor",
    "stroke-width": 1.8,
    "stroke-linecap": "round" as const,
    "stroke-linejoin": "round" as const,
    "aria-hidden": true,
  };
  switch (name) {
    case "deployments":
      return (
        <svg {...common}>
          <rect x="3" y="3" width="7" height="7" rx="1.5" />
          <rect x="14" y="14" width="7" height="7" rx="1.5" />
          <path d="M6.5 10v4.5a2 2 0 0 0 2 2H14" />
        </svg>
      );
    case "executions":
      return (
        <svg {...common}>
          <path d="M4 6h16M4 12h16M4 18h10" />
        </svg>
      );
    case "scheduling":
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="8.5" />
          <path d="M12 7v5l3 2" />
        </svg>
      );
    case "system":
      return (
        <svg {...common}>
          <path d="M3 12h4l2-5 4 10 2-5h6" />
        </svg>
      );
    case "settings":
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="3" />
          <path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z" />
        </svg>
      );
    case "theme":
      return (
        <svg {...common}>
          <path d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z" />
        </svg>
      );
    case "keys":
      return (
        <svg {...common}>
          <rect x="2.5" y="6" width="19" height="12" rx="2" />
          <path d="M6 10h.01M10 10h.01M14 10h.01M18 10h.01M7 14h10" />
        </svg>
      );
  }
}
