// What the Auth keys and API keys pages share: the panel that shows a new
// key's secret once (with Copy buttons), the users a key may belong to,
// and the duration field the API's expires_in takes.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { listAll } from "@weft/api.js";

// Copies el's text to the clipboard; without the clipboard API (or when
// the browser refuses it) selects the text so the user can copy it.
// Resolves to a status line.
async function copyText(el) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(el.value);
    return "Copied to the clipboard.";
  } catch {
    el.focus();
    el.select();
    return "Selected: press Ctrl+C (⌘C) to copy.";
  }
}

function CopyField({ id, label, value, rows }) {
  const ref = useRef(null);
  const [status, setStatus] = useState("");
  const attrs = { id, ref, value, readonly: true, spellcheck: false, onFocus: (e) => e.currentTarget.select() };
  return html`
    <label for=${id}>${label}</label>
    <div class="copy">
      ${rows ? html`<textarea rows=${rows} ...${attrs} />` : html`<input ...${attrs} />`}
      <button type="button" class="secondary" aria-label=${`Copy ${label.toLowerCase()}`}
              onClick=${async () => setStatus(await copyText(ref.current))}>Copy</button>
    </div>
    <p class="muted" role="status">${status}</p>`;
}

// The secret of a key just created, shown this once. fields:
// [{id, label, value, rows?}]. The parent drops it on Dismiss; leaving the
// page unmounts it, so it is gone either way.
export function OneTimeSecret({ title, fields, onDismiss }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  return html`
    <section class="secret" aria-labelledby="secret-title" tabindex="-1" ref=${ref}>
      <h3 id="secret-title">${title}</h3>
      <p class="note"><strong>Copy it now: it will not be shown again.</strong>${" "}
        The controller keeps only a hash of it.</p>
      ${fields.map((f) => html`<${CopyField} key=${f.id} ...${f} />`)}
      <button type="button" onClick=${onDismiss}>Done, dismiss</button>
    </section>`;
}

// Admins: every user (id -> user) for the owner columns and pickers;
// members may not list users and get only themselves from the session.
export function useUsers(session) {
  const [users, setUsers] = useState(() => new Map(session.user ? [[session.user.id, session.user]] : []));
  const [err, setErr] = useState("");
  useEffect(() => {
    if (session.role !== "admin") return;
    listAll("/api/v1/users").then((list) => setUsers(new Map(list.map((u) => [u.id, u]))),
      (e) => setErr(e.message));
  }, []);
  return [users, err];
}

export const userName = (users, id) => (users.get(id) || { name: `user ${id}` }).name;

// The durations offered for expires_in (the API takes "90m", "24h", "30d";
// at most 365d).
export function ExpiresIn({ id, value, onInput, hint }) {
  return html`
    <label for=${id}>Expires in</label>
    <input id=${id} name="expires_in" value=${value} list=${`${id}-list`} placeholder=${hint}
           aria-describedby=${`${id}-hint`}
           onInput=${(e) => onInput(e.currentTarget.value)} />
    <datalist id=${`${id}-list`}>
      ${["1h", "24h", "7d", "30d", "90d", "365d"].map((d) => html`<option value=${d} />`)}
    </datalist>
    <p class="muted" id=${`${id}-hint`}>A duration: 90m, 24h, 30d (at most 365d)${hint ? `; ${hint}` : ""}.</p>`;
}

// "revoked", "expired" or "active" for a key's expires_at/revoked_at.
export function keyState(k, now = Date.now()) {
  if (k.revoked_at) return "revoked";
  if (k.expires_at && Date.parse(k.expires_at) <= now) return "expired";
  return "active";
}
