// Routes live in the URL's hash (#/executions?status=FAILED), so the dashboard works from any
// static host and at /ui/ without a server-side fallback, and every view has a link to share.
import { useEffect, useState } from "preact/hooks";

export interface Location {
  /** "/executions/3f2a…" */
  path: string;
  /** The query after "?" in the hash. */
  query: URLSearchParams;
}

function read(): Location {
  const raw = location.hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  return { path: path || "/", query: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)) };
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return loc;
}

export type QueryInit = Record<string, string | string[] | number | undefined | null | false>;

/** "#/path?a=1&b=x&b=y", leaving out empty values. */
export function href(path: string, query: QueryInit = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === false || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ""}`;
}

/** Goes to path; replace keeps the history entry (for filter changes). */
export function navigate(path: string, query: QueryInit = {}, replace = false): void {
  const target = href(path, query);
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}
