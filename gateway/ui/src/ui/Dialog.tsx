// A modal dialog on the native <dialog>: focus moves in and is trapped, Escape closes, the
// element that opened it gets focus back.
import { useEffect, useRef, type ReactNode } from "react";

export function Dialog({ title, open, onClose, children }: {
  title: string; open: boolean; onClose: () => void; children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-label={title} onClose={onClose} onCancel={onClose}>
      <h2>{title}</h2>
      {open && children}
    </dialog>
  );
}

/** Copies ``text`` and says so for two seconds. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const ref = useRef<HTMLButtonElement>(null);
  const copy = () => {
    const done = () => {
      if (ref.current) {
        ref.current.textContent = "Copied";
        setTimeout(() => { if (ref.current) ref.current.textContent = label; }, 2000);
      }
    };
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    else fallbackCopy(text, done);
  };
  return <button type="button" ref={ref} onClick={copy} aria-label={`${label}: ${text.slice(0, 60)}`}>{label}</button>;
}

function fallbackCopy(text: string, done: () => void): void {
  const area = document.createElement("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  done();
}
