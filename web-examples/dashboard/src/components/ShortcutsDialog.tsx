import { Dialog } from "./Dialog";

export const shortcuts: [string, string][] = [
  ["g d", "Deployments"],
  ["g e", "Executions"],
  ["g s", "Scheduling"],
  ["g y", "System"],
  ["/", "Focus the filter"],
  ["r", "Refresh now"],
  ["p", "Pause or resume live updates"],
  ["[  ]", "Previous / next page"],
  ["t", "Switch theme (system, light, dark)"],
  [",", "Settings"],
  ["?", "This help"],
  ["Esc", "Close a dialog"],
];

export function ShortcutsDialog({ onClose }: { onClose: () => void }) {
  return (
    <Dialog title="Keyboard shortcuts" onClose={onClose}>
      <table class="shortcuts">
        <tbody>
          {shortcuts.map(([keys, what]) => (
            <tr key={keys}>
              <td>
                {keys.split(" ").filter(Boolean).map((k, i) => (
                  <span key={i}>
                    {i > 0 && " then "}
                    <kbd>{k}</kbd>
                  </span>
                ))}
              </td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Dialog>
  );
}
