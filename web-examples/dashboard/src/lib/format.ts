// Times, durations and numbers as people read them. The API's google.protobuf.Timestamp and
// Duration arrive from protobuf-es as { seconds: bigint, nanos: number }.

/** A Timestamp or Duration as protobuf-es gives it. */
export interface SecondsNanos {
  seconds: bigint;
  nanos: number;
}

/** Milliseconds since the epoch (or of a duration); undefined when unset. */
export function ms(t: SecondsNanos | undefined): number | undefined {
  if (!t) return undefined;
  return Number(t.seconds) * 1000 + Math.round(t.nanos / 1e6);
}

/** A Timestamp (or Duration) message init from milliseconds. */
export function fromMs(value: number): { seconds: bigint; nanos: number } {
  const s = Math.floor(value / 1000);
  return { seconds: BigInt(s), nanos: Math.round((value - s * 1000) * 1e6) };
}

/** "850 ms", "4.2 s", "2m 13s", "3h 05m", "2d 4h". */
export function duration(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "—";
  const neg = value < 0;
  const v = Math.abs(value);
  let out: string;
  if (v < 1000) out = `${Math.round(v)} ms`;
  else if (v < 10_000) out = `${(v / 1000).toFixed(1)} s`;
  else if (v < 60_000) out = `${Math.round(v / 1000)} s`;
  else if (v < 3_600_000) {
    const m = Math.floor(v / 60_000);
    const s = Math.round((v % 60_000) / 1000);
    out = s === 60 ? `${m + 1}m 0s` : `${m}m ${s}s`;
  } else if (v < 86_400_000) {
    const h = Math.floor(v / 3_600_000);
    const m = Math.floor((v % 3_600_000) / 60_000);
    out = `${h}h ${String(m).padStart(2, "0")}m`;
  } else {
    const d = Math.floor(v / 86_400_000);
    const h = Math.floor((v % 86_400_000) / 3_600_000);
    out = `${d}d ${h}h`;
  }
  return neg ? `-${out}` : out;
}

/** A Duration message as duration() text. */
export function dur(d: SecondsNanos | undefined): string {
  return duration(ms(d));
}

/** "in 2m 13s", "3m 2s ago", "just now". */
export function relative(value: number | undefined, now: number): string {
  if (value === undefined) return "—";
  const diff = value - now;
  if (Math.abs(diff) < 1500) return "just now";
  const text = duration(Math.abs(diff) < 60_000 ? Math.round(Math.abs(diff) / 1000) * 1000 : Math.abs(diff));
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local date and time, "2026-11-30 14:05:09". */
export function dateTime(value: number | undefined): string {
  if (value === undefined) return "—";
  const d = new Date(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local time of day, "14:05:09"; with the date when it is not today. */
export function shortTime(value: number | undefined, now: number): string {
  if (value === undefined) return "—";
  const d = new Date(value);
  const today = new Date(now);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === today.toDateString()) return time;
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** The value of an <input type="datetime-local"> for a time, and back. */
export function toLocalInput(value: number): string {
  const d = new Date(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? undefined : t;
}

/** 12,345 */
export function count(n: number | bigint | undefined): string {
  if (n === undefined) return "—";
  return Number(n).toLocaleString("en-US");
}

/** 0.973 -> "97.3%" */
export function percent(fraction: number | undefined, digits = 1): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return "—";
  return `${(fraction * 100).toFixed(digits)}%`;
}

/**
 * The last 8 characters of a UUID: the service's ids are UUIDv7, whose first characters are the
 * creation time and so the same for executions made in the same minute.
 */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(-8) : id;
}

/** A JSON document pretty-printed, or the text as it is when it is not JSON. */
export function prettyJson(text: string): string {
  if (!text) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
