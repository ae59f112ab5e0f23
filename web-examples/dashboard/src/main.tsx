// The dashboard's shell: sidebar, routes, settings, theme, toasts and keyboard shortcuts.
import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { themeEvent } from "./components/Chart";
import { SettingsDialog } from "./components/SettingsDialog";
import { ShortcutsDialog } from "./components/ShortcutsDialog";
import { Icon } from "./components/ui";
import { loadSettings, makeClient, saveSettings, type Settings } from "./lib/api";
import { AppContext, type AppState, type Toast } from "./lib/app";
import { refreshEvent } from "./lib/hooks";
import { href, navigate, useLocation } from "./lib/router";
import { DeploymentDetailPage } from "./pages/DeploymentDetail";
import { DeploymentsPage } from "./pages/Deployments";
import { ExecutionDetailPage } from "./pages/ExecutionDetail";
import { ExecutionsPage } from "./pages/Executions";
import { SchedulingPage } from "./pages/Scheduling";
import { SystemPage } from "./pages/System";
import "./styles.css";

type Theme = "system" | "light" | "dark";

function applyTheme(t: Theme) {
  if (t === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  try {
    if (t === "system") localStorage.removeItem("wfr.theme");
    else localStorage.setItem("wfr.theme", t);
  } catch {
    /* private mode */
  }
  window.dispatchEvent(new Event(themeEvent));
}

const nav = [
  { path: "/deployments", label: "Deployments", icon: "deployments", key: "d" },
  { path: "/executions", label: "Executions", icon: "executions", key: "e" },
  { path: "/scheduling", label: "Scheduling", icon: "scheduling", key: "s" },
  { path: "/system", label: "System", icon: "system", key: "y" },
] as const;

function isTyping(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  return t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName);
}

function App() {
  const loc = useLocation();
  const [settings, setSettings] = useState<Settings>(loadSettings);
  const client = useMemo(() => makeClient(settings), [settings]);
  const [dialog, setDialog] = useState<"settings" | "shortcuts" | null>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [connected, setConnected] = useState<boolean | undefined>(undefined);
  const [theme, setTheme] = useState<Theme>(() => (document.documentElement.dataset.theme as Theme | undefined) ?? "system");
  const nextToast = useRef(1);

  const toast = useCallback((t: Omit<Toast, "id">) => {
    const id = nextToast.current++;
    setToasts((ts) => [...ts.slice(-2), { ...t, id }]);
    setTimeout(() => setToasts((ts) => ts.filter((x) => x.id !== id)), t.kind === "err" ? 10_000 : 4000);
  }, []);

  const state: AppState = useMemo(
    () => ({
      client,
      settings,
      openSettings: () => setDialog("settings"),
      toast,
      reportConnection: (ok: boolean) => setConnected(ok),
    }),
    [client, settings, toast],
  );

  const cycleTheme = useCallback(() => {
    setTheme((t) => {
      const next: Theme = t === "system" ? "light" : t === "light" ? "dark" : "system";
      applyTheme(next);
      return next;
    });
  }, []);

  // Keyboard shortcuts (see ShortcutsDialog).
  useEffect(() => {
    let pendingG = 0;
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e) || document.querySelector("dialog[open]")) return;
      const k = e.key;
      if (pendingG && Date.now() - pendingG < 1200) {
        pendingG = 0;
        const item = nav.find((n) => n.key === k);
        if (item) {
          e.preventDefault();
          navigate(item.path);
        }
        return;
      }
      switch (k) {
        case "g":
          pendingG = Date.now();
          return;
        case "/": {
          const input = document.querySelector<HTMLInputElement>("[data-search]");
          if (input) {
            e.preventDefault();
            input.focus();
            input.select();
          }
          return;
        }
        case "r":
          window.dispatchEvent(new Event(refreshEvent));
          return;
        case "p":
          document.querySelector<HTMLButtonElement>(".live button")?.click();
          return;
        case "[":
          document.querySelector<HTMLButtonElement>('button[aria-label="Previous page"]:not(:disabled)')?.click();
          return;
        case "]":
          document.querySelector<HTMLButtonElement>('button[aria-label="Next page"]:not(:disabled)')?.click();
          return;
        case "t":
          cycleTheme();
          return;
        case ",":
          setDialog("settings");
          return;
        case "?":
          setDialog("shortcuts");
          return;
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [cycleTheme]);

  // Scroll to the top and move focus to the page on navigation, for keyboard and screen readers.
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [loc.path]);

  let page;
  let m: RegExpMatchArray | null;
  if ((m = loc.path.match(/^\/deployments\/([^/]+)$/))) page = <DeploymentDetailPage id={decodeURIComponent(m[1])} key={m[1]} />;
  else if (loc.path === "/deployments" || loc.path === "/") page = <DeploymentsPage loc={loc} />;
  else if ((m = loc.path.match(/^\/executions\/([^/]+)$/))) page = <ExecutionDetailPage id={decodeURIComponent(m[1])} key={m[1]} />;
  else if (loc.path === "/executions") page = <ExecutionsPage loc={loc} />;
  else if (loc.path === "/scheduling") page = <SchedulingPage loc={loc} />;
  else if (loc.path === "/system") page = <SystemPage />;
  else
    page = (
      <div class="empty">
        <h3>No such page</h3>
        <p>
          <a href={href("/deployments")}>Go to Deployments</a>
        </p>
      </div>
    );
  const section = loc.path === "/" ? "/deployments" : `/${loc.path.split("/")[1]}`;

  useEffect(() => {
    const item = nav.find((n) => n.path === section);
    document.title = `${item ? item.label : "workflow-runtime"} · workflow-runtime`;
  }, [section]);

  return (
    <AppContext.Provider value={state}>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); mainRef.current?.focus(); }}>
        Skip to content
      </a>
      <div class="shell">
        <aside class="sidebar-col">
          <div class="sidebar">
            <a class="brand" href={href("/deployments")}>
              <span class="brand-mark" aria-hidden="true">
                <svg width="16" height="16" viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.6">
                  <rect x="2" y="2" width="5" height="5" rx="1" />
                  <rect x="9" y="9" width="5" height="5" rx="1" />
                  <path d="M4.5 7v3.5a1 1 0 0 0 1 1H9" />
                </svg>
              </span>
              <span class="brand-name">workflow-runtime</span>
            </a>
            <nav class="nav" aria-label="Main">
              {nav.map((n) => (
                <a key={n.path} href={href(n.path)} aria-current={section === n.path ? "page" : undefined} title={`${n.label} (g ${n.key})`}>
                  <Icon name={n.icon} />
                  <span class="nav-label">{n.label}</span>
                  <kbd aria-hidden="true">g {n.key}</kbd>
                </a>
              ))}
            </nav>
            <div class="sidebar-foot">
              <div class="conn" title={`${settings.baseUrl} over ${settings.transport}`}>
                <span class={`dot ${connected === undefined ? "" : connected ? "ok" : "err"}`} aria-hidden="true" />
                <span class="conn-url" data-testid="connection">
                  {settings.transport === "grpc-web" ? "gRPC-Web" : "Connect"} · {settings.baseUrl.replace(/^https?:\/\//, "")}
                </span>
              </div>
              <div class="sidebar-actions">
                <button class="small" onClick={() => setDialog("settings")} title="Settings (,)" aria-label="Settings">
                  <Icon name="settings" />
                </button>
                <button class="small" onClick={cycleTheme} title={`Theme: ${theme} (t)`} aria-label={`Theme: ${theme}. Switch theme`}>
                  <Icon name="theme" />
                </button>
                <button class="small" onClick={() => setDialog("shortcuts")} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
                  <Icon name="keys" />
                </button>
              </div>
              <span class="hint-keys faint">
                Press <kbd>?</kbd> for shortcuts
              </span>
            </div>
          </div>
        </aside>
        <main id="main" ref={mainRef} tabIndex={-1}>
          {page}
        </main>
      </div>
      <div class="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} class={`toast ${t.kind}`}>
            <span>
              {t.text}
              {t.href && (
                <>
                  {" "}
                  <a href={t.href}>{t.linkText ?? "Open"}</a>
                </>
              )}
            </span>
            <button class="ghost small" aria-label="Dismiss" onClick={() => setToasts((ts) => ts.filter((x) => x.id !== t.id))}>
              ✕
            </button>
          </div>
        ))}
      </div>
      {dialog === "settings" && (
        <SettingsDialog
          settings={settings}
          onSave={(s) => {
            saveSettings(s);
            setConnected(undefined);
            setSettings(s);
          }}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog === "shortcuts" && <ShortcutsDialog onClose={() => setDialog(null)} />}
    </AppContext.Provider>
  );
}

render(<App />, document.getElementById("app")!);
