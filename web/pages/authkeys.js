// Auth keys: the keys that register nodes (POST /api/v1/register, i.e.
// `weft-agent up --auth-key`). Every user has this page; the API shows and
// lets a member manage only their own keys, and refuses tags and other
// users from members, so the form offers those to admins only. A new key
// is shown once with the exact join command; revoking asks first.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, listAll, relTime } from "@weft/api.js";
import { confirmAction } from "@weft/ui.js";
import { ExpiresIn, OneTimeSecret, keyState, useUsers, userName } from "@weft/keys.js";

// usable / used (a one-off key after its registration) / expired / revoked.
function authKeyState(k) {
  const s = keyState(k);
  if (s === "active" && !k.reusable && k.used_count > 0) return "used";
  return s === "active" ? "usable" : s;
}

export const joinCommand = (key) => `weft-agent up --controller ${location.origin} --auth-key ${key}`;

function CreateForm({ session, users, onCreated }) {
  const admin = session.role === "admin";
  const me = session.user ? String(session.user.id) : "";
  const [userId, setUserId] = useState(me);
  const [expires, setExpires] = useState("24h");
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(ev) {
    ev.preventDefault();
    const el = ev.currentTarget.elements;
    const body = { reusable: el.reusable.checked, ephemeral: el.ephemeral.checked };
    if (expires.trim()) body.expires_in = expires.trim();
    if (admin) {
      const tags = el.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
      if (tags.length) body.tags = tags;
      if (userId) body.user_id = Number(userId);
    }
    setErr("");
    setBusy(true);
    try {
      const k = await api("POST", "/api/v1/auth-keys", body);
      ev.target.reset();
      setExpires("24h");
      onCreated(k);
    } catch (e) {
      setErr(e.message);
    } finally {
      setBusy(false);
    }
  }

  return html`
    <form class="keyform" onSubmit=${submit} aria-labelledby="ak-new">
      <h3 id="ak-new">New auth key</h3>
      ${admin && html`
        <label for="ak-user">User</label>
        <select id="ak-user" value=${userId} onChange=${(e) => setUserId(e.currentTarget.value)}>
          ${[...users.values()].map((u) => html`<option value=${String(u.id)}>${u.name} (${u.role})</option>`)}
          <option value="">none: tagged nodes only</option>
        </select>`}
      <div class="checks">
        <input type="checkbox" id="ak-reusable" name="reusable" />
        <label for="ak-reusable">Reusable (registers any number of nodes)</label>
      </div>
      <div class="checks">
        <input type="checkbox" id="ak-ephemeral" name="ephemeral" />
        <label for="ak-ephemeral">Ephemeral (its nodes are removed when they go offline)</label>
      </div>
      <${ExpiresIn} id="ak-expires" value=${expires} onInput=${setExpires} />
      ${admin && html`
        <label for="ak-tags">Tags</label>
        <input id="ak-tags" name="tags" placeholder="tag:web, tag:db" aria-describedby="ak-tags-hint" />
        <p class="muted" id="ak-tags-hint">Comma separated. A key without a user needs at least one tag.</p>`}
      <button type="submit" disabled=${busy}>Create auth key</button>
      ${err && html`<p class="error" role="alert">${err}</p>`}
    </form>`;
}

export function AuthKeysPage({ session }) {
  const admin = session.role === "admin";
  const [users, usersErr] = useUsers(session);
  const [keys, setKeys] = useState(null);
  const [revoked, setRevoked] = useState(false);
  const [created, setCreated] = useState(null);
  const [err, setErr] = useState("");

  const load = async (withRevoked = revoked) => {
    try {
      setKeys(await listAll(`/api/v1/auth-keys${withRevoked ? "?include_revoked=true" : ""}`));
      setErr("");
    } catch (e) {
      setErr(e.message);
    }
  };
  useEffect(() => { load(); }, []);

  const revoke = async (k) => {
    if (!(await confirmAction(`Revoke auth key ${k.prefix}? It can register no more nodes; the nodes it registered stay.`, "Revoke")))
      return;
    try {
      await api("DELETE", `/api/v1/auth-keys/${k.id}`);
      await load();
    } catch (e) {
      setErr(e.message);
    }
  };
  const owner = (k) => (k.user_id == null ? "none (tagged)" : userName(users, k.user_id));

  return html`
    <section class="keys" aria-labelledby="ak-title">
      <h2 id="ak-title">Auth keys</h2>
      <p class="muted">An auth key registers nodes: <code>weft-agent up --auth-key KEY</code>.
        ${admin ? "" : " You see and manage your own keys."}</p>
      ${created && html`
        <${OneTimeSecret} title=${`Auth key ${created.prefix} created`} onDismiss=${() => setCreated(null)}
          fields=${[
            { id: "ak-secret", label: "Auth key", value: created.key },
            { id: "ak-join", label: "Join command", value: joinCommand(created.key), rows: 3 },
          ]} />`}
      <${CreateForm} session=${session} users=${users}
        onCreated=${(k) => { setCreated(k); load(); }} />
      <div class="filters">
        <input type="checkbox" id="ak-revoked" checked=${revoked}
               onChange=${(e) => { setRevoked(e.currentTarget.checked); load(e.currentTarget.checked); }} />
        <label for="ak-revoked">Include revoked</label>
      </div>
      ${(err || usersErr) && html`<p class="error" role="alert">${err || usersErr}</p>`}
      <div class="scroll">
        <table aria-labelledby="ak-title">
          <thead><tr>
            <th scope="col">Key</th><th scope="col">User</th><th scope="col">Reusable</th>
            <th scope="col">Ephemeral</th><th scope="col">Tags</th><th scope="col">Expires</th>
            <th scope="col">State</th><th scope="col">Created</th><th scope="col">Actions</th>
          </tr></thead>
          <tbody>${(keys || []).map((k) => html`
            <tr key=${k.id} data-key=${k.prefix}>
              <td><code>${k.prefix}</code><div class="muted">id ${k.id}</div></td>
              <td>${owner(k)}</td>
              <td>${k.reusable ? "yes" : "no"}</td>
              <td>${k.ephemeral ? "yes" : "no"}</td>
              <td>${k.tags.join(", ")}</td>
              <td title=${k.expires_at || ""}>${k.expires_at ? relTime(k.expires_at) : "never"}</td>
              <td><span class=${k.usable ? "badge on" : "badge"} data-testid="state">${authKeyState(k)}</span>
                <div class="muted">used ${k.used_count}×</div></td>
              <td title=${k.created_at}>${relTime(k.created_at)}</td>
              <td class="actions">${!k.revoked_at && html`
                <button type="button" class="danger" aria-label=${`Revoke auth key ${k.prefix}`}
                        onClick=${() => revoke(k)}>Revoke</button>`}</td>
            </tr>`)}</tbody>
        </table>
      </div>
      ${keys && keys.length === 0 && html`<p>No auth keys${revoked ? "" : " (revoked ones hidden)"}.</p>`}
    </section>`;
}
