// The password dialog, used by the Users page (any user's password, for
// admins) and by the shell's "Password" button (one's own).
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "@weft/api.js";

// The password dialog: a native <dialog> (focus trapped, Escape cancels)
// with the password twice; the two must match before anything is sent.
// Changing one's own password also asks for the current one (the API
// requires it once a password is set).
// Closes itself after a 204; the API's error stays in the dialog.
export function PasswordDialog({ user, self, onClose }) {
  const ref = useRef(null);
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (ref.current && !ref.current.open) ref.current.showModal(); }, []);
  const close = (done) => {
    if (ref.current && ref.current.open) ref.current.close();
    onClose(done);
  };

  async function submit(ev) {
    ev.preventDefault();
    const el = ev.currentTarget.elements;
    if (el.pw1.value !== el.pw2.value) {
      setErr("The two passwords do not match.");
      el.pw2.focus();
      return;
    }
    setErr("");
    setBusy(true);
    try {
      const body = { password: el.pw1.value };
      if (el.current && el.current.value) body.current_password = el.current.value;
      await api("PUT", `/api/v1/users/${user.id}/password`, body);
      close(true);
    } catch (e) {
      setErr(e.message);
      setBusy(false);
    }
  }

  return html`
    <dialog ref=${ref} aria-labelledby="pw-title" onCancel=${(e) => { e.preventDefault(); close(false); }}>
      <form onSubmit=${submit}>
        <h3 id="pw-title">${user.has_password ? "Replace" : "Set"} the password of ${user.name}</h3>
        <p class="muted">8 to 1024 bytes. ${self ? "Your sessions end: you will sign in again." : "Their sessions end."}</p>
        ${self && html`
          <label for="pw-cur">Current password${user.has_password ? "" : " (if you have one)"}</label>
          <input id="pw-cur" name="current" type="password" autocomplete="current-password"
                 required=${!!user.has_password} autofocus />`}
        <label for="pw-1">New password</label>
        <input id="pw-1" name="pw1" type="password" autocomplete="new-password" required autofocus=${!self} />
        <label for="pw-2">Repeat the password</label>
        <input id="pw-2" name="pw2" type="password" autocomplete="new-password" required />
        ${err && html`<p class="error" role="alert">${err}</p>`}
        <div class="row">
          <button type="button" class="secondary" onClick=${() => close(false)}>Cancel</button>
          <button type="submit" disabled=${busy}>Save password</button>
        </div>
      </form>
    </dialog>`;
}
