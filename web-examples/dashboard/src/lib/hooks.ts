// Data loading and clocks for the pages.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ConnectError, Code } from "@workflow-runtime/sdk";
import { useApp } from "./app";
import { isAbort } from "./api";

/** The event the "r" shortcut sends: every query on the page loads again. */
export const refreshEvent = "wfr:refresh";

export interface Query<T> {
  data?: T;
  error?: unknown;
  /** True while the first answer (or the answer after the inputs changed) is awaited. */
  loading: boolean;
  /** When the current data arrived (ms since the epoch). */
  updatedAt?: number;
  /** Loads again now. */
  reload: () => void;
}

export interface QueryOptions {
  /** Load again this many ms after each answer. Default: never. */
  refreshMs?: number;
  /** Stop refreshing (the data stays). */
  paused?: boolean;
  /** Do not load at all (e.g. an input is missing). */
  skip?: boolean;
}

/**
 * Runs fetcher when deps change and on reload; keeps the last data while a new answer is awaited,
 * so refreshes do not flicker. An answer that a newer call overtook is dropped.
 */
export function useQuery<T>(
  fetcher: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  opts: QueryOptions = {},
): Query<T> {
  const { client, reportConnection } = useApp();
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean; updatedAt?: number; key: string }>({
    loading: !opts.skip,
    key: "",
  });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const key = JSON.stringify(deps, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;

  useEffect(() => {
    if (opts.skip) {
      setState({ loading: false, key });
      return;
    }
    const ctrl = new AbortController();
    setState((s) => (s.key === key ? s : { loading: true, key }));
    fetcherRef.current(ctrl.signal).then(
      (data) => {
        if (ctrl.signal.aborted) return;
        reportConnection(true);
        setState({ data, loading: false, updatedAt: Date.now(), key });
      },
      (error: unknown) => {
        if (ctrl.signal.aborted || isAbort(error)) return;
        const cerr = error instanceof ConnectError ? error : undefined;
        reportConnection(!(cerr && (cerr.code === Code.Unavailable || cerr.code === Code.Unknown)));
        setState((s) => ({ data: s.key === key ? s.data : undefined, error, loading: false, updatedAt: s.updatedAt, key }));
      },
    );
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick, opts.skip, client]); // a new client (settings saved) loads again

  // Refresh after each answer, while visible and not paused.
  useEffect(() => {
    if (!opts.refreshMs || opts.paused || opts.skip || state.loading) return;
    const t = setTimeout(() => {
      if (document.visibilityState === "visible") reload();
      else setTick((n) => n); // try again at the next interval
    }, opts.refreshMs);
    return () => clearTimeout(t);
  }, [opts.refreshMs, opts.paused, opts.skip, state.loading, state.updatedAt, state.error, reload]);

  useEffect(() => {
    window.addEventListener(refreshEvent, reload);
    return () => window.removeEventListener(refreshEvent, reload);
  }, [reload]);

  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: !current || state.loading,
    updatedAt: state.updatedAt,
    reload,
  };
}

/** The current time, updated every intervalMs (for "3m ago" that keeps counting). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

/** A value kept in localStorage under key. */
export function useStored<T>(key: string, initial: T): [T, (v: T) => void] {
  const [value, setValue] = useState<T>(() => {
    try {
      const raw = localStorage.getItem(key);
      return raw === null ? initial : (JSON.parse(raw) as T);
    } catch {
      return initial;
    }
  });
  const set = useCallback(
    (v: T) => {
      setValue(v);
      try {
        localStorage.setItem(key, JSON.stringify(v));
      } catch {
        /* storage full or disabled: keep it for this page only */
      }
    },
    [key],
  );
  return [value, set];
}
