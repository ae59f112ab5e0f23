// Modal dialogs on the native <dialog> element: focus is trapped and returned, Escape closes.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBox } from "./ui";

export function Dialog({
  title,
  onClose,
  children,
  footer,
  wide,
  label,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  footer?: ComponentChildren;
  wide?: boolean;
  label?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const before = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    return () => {
      if (d.open) d.close();
      // Return focus to where it was, unless something has taken it since the dialog closed:
      // the render that unmounts the dialog comes after Escape has closed it, and a key
      // pressed in between (/ focuses the filter) must keep what it focused.
      const now = document.activeElement;
      if (!now || now === document.body || d.contains(now)) before?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={wide ? "wide" : ""}
      aria-label={label ?? title}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div class="dialog-head">
        <h2>{title}</h2>
        <button class="ghost small" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <div class="dialog-body">{children}</div>
      {footer && <div class="dialog-foot">{footer}</div>}
    </dialog>
  );
}

/** Asks before something that cannot be undone; runs action and shows its error if it fails. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  danger,
  action,
  onClose,
}: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  action: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose} autofocus>
            Cancel
          </button>
          <button class={danger ? "danger solid" : "primary"} onClick={run} disabled={busy}>
            {busy ? "Working…" : confirmLabel}
          </button>
        </>
      }
    >
      {children}
      {error !== undefined && <ErrorBox error={error} />}
    </Dialog>
  );
}
