// API keys: the Bearer keys that call the REST API (CLI, scripts). Admins
// only, like the API routes. A key acts with its user's role; a key
// without a user is an admin key (like the bootstrap key). A new key is
// shown once; revoking asks first.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, listAll, relTime } from "@weft/api.js";
import { confirmAction } from "@weft/ui.js";
import { ExpiresIn, OneTimeSecret, keyState, useUsers, userName } from "@weft/keys.js";

// The role the API gives the key: its user's, admin for no user.
const roleOf = (users, k) => (k.user_id == null ? "admin" : (users.get(k.user_id) || {}).role || "?");

function CreateForm({ users, onCreated }) {
  const [expires, setExpires] = useState("");
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(ev) {
    ev.preventDefault();
    const el = ev.currentTarget.elements;
    const body = { description: el.description.value.trim() };
    if (el.user.value) body.user_id = Number(el.user.value);
    if (expires.trim()) body.expires_in = expires.trim();
    setErr("");
    setBusy(true);
    try {
      const k = await api("POST", "/api/v1/api-keys", body);
      ev.target.reset();
      setExpires("");
      onCreated(k);
    } catch (e) {
      setErr(e.message);
    } finally {
      setBusy(false);
    }
  }

  return html`
    <form class="keyform" onSubmit=${submit} aria-labelledby="api-new">
      <h3 id="api-new">New API key</h3>
      <label for="api-desc">Description</label>
      <input id="api-desc" name="description" placeholder="backup script" maxlength="255" />
      <label for="api-user">User (the key gets this user's role)</label>
      <select id="api-user" name="user">
        <option value="">none: an admin key</option>
        ${[...users.values()].map((u) => html`<option value=${String(u.id)}>${u.name} (${u.role})</option>`)}
      </select>
      <${ExpiresIn} id="api-expires" value=${expires} onInput=${setExpires} hint="empty: never" />
      <button type="submit" disabled=${busy}>Create API key</button>
      ${err && html`<p class="error" role="alert">${err}</p>`}
    </form>`;
}

export function ApiKeysPage({ session }) {
  const [users, usersErr] = useUsers(session);
  const [keys, setKeys] = useState(null);
  const [revoked, setRevoked] = useState(false);
  const [created, setCreated] = useState(null);
  const [err, setErr] = useState("");

  const load = async () => {
    try {
      setKeys(await listAll("/api/v1/api-keys"));
      setErr("");
    } catch (e) {
      setErr(e.message);
    }
  };
  useEffect(() => { load(); }, []);

  const revoke = async (k) => {
    if (!(await confirmAction(`Revoke API key ${k.prefix}${k.description ? ` (${k.description})` : ""}? Every call with it fails from now on, and sessions opened with it end.`, "Revoke")))
      return;
    try {
      await api("DELETE", `/api/v1/api-keys/${k.id}`);
      await load();
    } catch (e) {
      setErr(e.message);
    }
  };
  const shown = (keys || []).filter((k) => revoked || !k.revoked_at);

  return html`
    <section class="keys" aria-labelledby="api-title">
      <h2 id="api-title">API keys</h2>
      <p class="muted">Send an API key as <code>Authorization: Bearer KEY</code> to <code>/api/v1</code>.</p>
      ${created && html`
        <${OneTimeSecret} title=${`API key ${created.prefix} created`} onDismiss=${() => setCreated(null)}
          fields=${[{ id: "api-secret", label: "API key", value: created.key }]} />`}
      <${CreateForm} users=${users} onCreated=${(k) => { setCreated(k); load(); }} />
      <div class="filters">
        <input type="checkbox" id="api-revoked" checked=${revoked}
               onChange=${(e) => setRevoked(e.currentTarget.checked)} />
        <label for="api-revoked">Include revoked</label>
      </div>
      ${(err || usersErr) && html`<p class="error" role="alert">${err || usersErr}</p>`}
      <div class="scroll">
        <table aria-labelledby="api-title">
          <thead><tr>
            <th scope="col">Key</th><th scope="col">Description</th><th scope="col">User</th>
            <th scope="col">Role</th><th scope="col">Expires</th><th scope="col">Last used</th>
            <th scope="col">State</th><th scope="col">Created</th><th scope="col">Actions</th>
          </tr></thead>
          <tbody>${shown.map((k) => html`
            <tr key=${k.id} data-key=${k.prefix}>
              <td><code>${k.prefix}</code><div class="muted">id ${k.id}</div></td>
              <td>${k.description}</td>
              <td>${k.user_id == null ? "none" : userName(users, k.user_id)}</td>
              <td>${roleOf(users, k)}</td>
              <td title=${k.expires_at || ""}>${k.expires_at ? relTime(k.expires_at) : "never"}</td>
              <td title=${k.last_used_at || ""}>${relTime(k.last_used_at)}</td>
              <td><span class=${keyState(k) === "active" ? "badge on" : "badge"} data-testid="state">${keyState(k)}</span></td>
              <td title=${k.created_at}>${relTime(k.created_at)}</td>
              <td class="actions">${!k.revoked_at && html`
                <button type="button" class="danger" aria-label=${`Revoke API key ${k.prefix}`}
                        onClick=${() => revoke(k)}>Revoke</button>`}</td>
            </tr>`)}</tbody>
        </table>
      </div>
      ${keys && shown.length === 0 && html`<p>No API keys${revoked ? "" : " (revoked ones hidden)"}.</p>`}
    </section>`;
}
