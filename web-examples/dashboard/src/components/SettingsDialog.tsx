// The connection settings: base URL, transport (Connect or gRPC-Web) and bearer token, kept in
// this browser's localStorage.
import { useState } from "preact/hooks";
import { checkBaseUrl, defaultBaseUrl, type Settings, type Transport } from "../lib/api";
import { Dialog } from "./Dialog";

export function SettingsDialog({ settings, onSave, onClose }: { settings: Settings; onSave: (s: Settings) => void; onClose: () => void }) {
  const [baseUrl, setBaseUrl] = useState(settings.baseUrl);
  const [transport, setTransport] = useState<Transport>(settings.transport);
  const [token, setToken] = useState(settings.token);
  const [showToken, setShowToken] = useState(false);
  const urlError = checkBaseUrl(baseUrl.trim());
  const save = (e?: Event) => {
    e?.preventDefault();
    if (urlError) return;
    onSave({ baseUrl: baseUrl.trim().replace(/\/+$/, ""), transport, token: token.trim() });
    onClose();
  };
  return (
    <Dialog
      title="Settings"
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Cancel</button>
          <button class="primary" onClick={() => save()} disabled={!!urlError}>
            Save
          </button>
        </>
      }
    >
      <form onSubmit={save} style={{ display: "flex", flexDirection: "column", gap: "14px" }}>
        <label class="field">
          Service URL
          <input
            name="baseUrl"
            value={baseUrl}
            autofocus
            aria-invalid={!!urlError}
            aria-describedby="url-help"
            onInput={(e) => setBaseUrl((e.target as HTMLInputElement).value)}
          />
          <span id="url-help" class={urlError ? "json-status err" : "small faint"}>
            {urlError ??
              `Where the service listens (default here: ${defaultBaseUrl()}). Another origin than this page's needs WFR_CORS_ALLOWED_ORIGINS=${location.origin} on the service.`}
          </span>
        </label>
        <fieldset class="field" style={{ border: "none", padding: 0, margin: 0 }}>
          <legend style={{ marginBottom: "4px" }}>Transport</legend>
          <div class="seg" role="radiogroup">
            {(
              [
                ["connect", "Connect"],
                ["grpc-web", "gRPC-Web"],
              ] as [Transport, string][]
            ).map(([value, label]) => (
              <button
                type="button"
                key={value}
                role="radio"
                aria-checked={transport === value}
                aria-pressed={transport === value}
                onClick={() => setTransport(value)}
                data-transport={value}
              >
                {label}
              </button>
            ))}
          </div>
          <span class="small faint">Both are served on the same port; Connect sends JSON, gRPC-Web binary protobuf frames.</span>
        </fieldset>
        <label class="field">
          Bearer token
          <span style={{ display: "flex", gap: "6px" }}>
            {showToken ? (
              <input name="token" style={{ flex: 1 }} type="text" autocomplete="off" value={token} placeholder="none" onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
            ) : (
              <input name="token" style={{ flex: 1 }} type="password" autocomplete="off" value={token} placeholder="none" onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
            )}
            <button type="button" class="small" onClick={() => setShowToken(!showToken)}>
              {showToken ? "Hide" : "Show"}
            </button>
          </span>
          <span class="small faint">
            A token of the service's tokens file (scope read to look; trigger and deploy to act). Kept in this browser's
            localStorage.
          </span>
        </label>
        <button type="submit" hidden />
      </form>
    </Dialog>
  );
}
