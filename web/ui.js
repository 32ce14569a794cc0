// Shared UI pieces: the confirmation dialog every destructive action goes
// through, and a prompt for one text value. Both are native <dialog>s
// (focus is trapped and Escape cancels), rendered once by the shell.
import { html } from "htm/preact";
import { signal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";

const pending = signal(null);

// Resolves to true when the user confirms. kind "confirm" or "prompt";
// a prompt resolves to the entered text or null.
function open(kind, opts) {
  return new Promise((resolve) => { pending.value = { kind, ...opts, resolve }; });
}
export const confirmAction = (message, action = "Confirm") => open("confirm", { message, action });
export const promptValue = (message, label, value = "", action = "Save") =>
  open("prompt", { message, label, value, action });

export function DialogHost() {
  const ref = useRef(null);
  const p = pending.value;
  useEffect(() => {
    if (p && ref.current && !ref.current.open) ref.current.showModal();
  }, [p]);
  if (!p) return null;
  const done = (v) => {
    pending.value = null;
    if (ref.current && ref.current.open) ref.current.close();
    p.resolve(v);
  };
  const submit = (ev) => {
    ev.preventDefault();
    done(p.kind === "prompt" ? ev.currentTarget.elements.value.value : true);
  };
  return html`
    <dialog ref=${ref} aria-labelledby="dlg-msg"
            onCancel=${(e) => { e.preventDefault(); done(p.kind === "prompt" ? null : false); }}>
      <form onSubmit=${submit}>
        <p id="dlg-msg">${p.message}</p>
        ${p.kind === "prompt" && html`
          <label for="dlg-value">${p.label}</label>
          <input id="dlg-value" name="value" value=${p.value} autofocus />`}
        <div class="row">
          <button type="button" class="secondary" onClick=${() => done(p.kind === "prompt" ? null : false)}>Cancel</button>
          <button type="submit" class=${p.kind === "confirm" ? "danger" : ""}>${p.action}</button>
        </div>
      </form>
    </dialog>`;
}
