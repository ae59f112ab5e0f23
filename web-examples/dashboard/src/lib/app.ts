// What every page reaches through context: the client, the settings, toasts, and the
// connection state the sidebar shows.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { WorkflowRuntimeClient } from "@workflow-runtime/sdk";
import type { Settings } from "./api";

export interface Toast {
  id: number;
  kind: "ok" | "err";
  text: string;
  href?: string;
  linkText?: string;
}

export interface AppState {
  client: WorkflowRuntimeClient;
  settings: Settings;
  openSettings: () => void;
  toast: (t: Omit<Toast, "id">) => void;
  /** Records whether the last call reached the service, for the sidebar's dot. */
  reportConnection: (ok: boolean) => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error("useApp outside AppContext");
  return s;
}
