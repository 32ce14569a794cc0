// Users: the people who own nodes and keys and log in to this UI. Admins
// only, like GET /api/v1/users. Create (name, role), change the role (it
// ends the user's sessions, so it asks first), set or replace the login
// password (PUT /api/v1/users/{id}/password, from a dialog with the
// password twice) and delete (asks first; the API refuses while the user
// owns nodes). Every error is the API's message.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, listAll, relTime } from "@weft/api.js";
import { confirmAction } from "@weft/ui.js";
import { PasswordDialog } from "@weft/password.js";

function CreateForm({ onCreated }) {
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    setErr("");
    setBusy(true);
    try {
      const u = await api("POST", "/api/v1/users", { name: form.elements.name.value.trim(), role: form.elements.role.value });
      form.reset();
      onCreated(u);
    } catch (e) {
      setErr(e.message);
    } finally {
      setBusy(false);
    }
  }

  return html`
    <form class="keyform" onSubmit=${submit} aria-labelledby="user-new">
      <h3 id="user-new">New user</h3>
      <label for="user-name">Name</label>
      <input id="user-name" name="name" required autocomplete="off" aria-describedby="user-name-hint" />
      <p class="muted" id="user-name-hint">a-z 0-9 . _ - (1 to 63), starting with a letter or digit.</p>
      <label for="user-role">Role</label>
      <select id="user-role" name="role">
        <option value="member">member (own nodes and auth keys)</option>
        <option value="admin">admin (everything)</option>
      </select>
      <button type="submit" disabled=${busy}>Create user</button>
      ${err && html`<p class="error" role="alert">${err}</p>`}
    </form>`;
}

export function UsersPage({ session }) {
  const [users, setUsers] = useState(null);
  const [err, setErr] = useState("");
  const [note, setNote] = useState("");
  const [pwFor, setPwFor] = useState(null);
  const me = session.user && session.user.id;

  // Keeps an action's error on screen: only a failure of its own sets it.
  const load = async () => {
    try {
      setUsers(await listAll("/api/v1/users"));
    } catch (e) {
      setErr(e.message);
    }
  };
  useEffect(() => { load(); }, []);

  const act = async (fn) => {
    setErr("");
    setNote("");
    try {
      const msg = await fn();
      if (msg) setNote(msg);
    } catch (e) {
      setErr(e.message);
    }
    await load();
  };
  const changeRole = (u, role, select) => act(async () => {
    if (!(await confirmAction(`Make ${u.name} ${role === "admin" ? "an admin" : "a member"}? Their sessions end.`, "Change role"))) {
      select.value = u.role;
      return "";
    }
    await api("PATCH", `/api/v1/users/${u.id}`, { role });
    return `${u.name} is now ${role === "admin" ? "an admin" : "a member"}.`;
  });
  const remove = (u) => act(async () => {
    if (!(await confirmAction(`Delete user ${u.name}? Their API keys and auth keys are deleted with them. This cannot be undone.`, "Delete")))
      return "";
    await api("DELETE", `/api/v1/users/${u.id}`);
    return `User ${u.name} deleted.`;
  });
  const passwordDone = (u, done) => {
    setPwFor(null);
    if (done) act(async () => `Password of ${u.name} ${u.has_password ? "replaced" : "set"}.`);
  };

  return html`
    <section class="users" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <${CreateForm} onCreated=${(u) => act(async () => `User ${u.name} created.`)} />
      ${err && html`<p class="error" role="alert">${err}</p>`}
      ${note && html`<p class="note" role="status">${note}</p>`}
      <div class="scroll">
        <table aria-labelledby="users-title">
          <thead><tr>
            <th scope="col">Name</th><th scope="col">Role</th><th scope="col">Password</th>
            <th scope="col">Created</th><th scope="col">Actions</th>
          </tr></thead>
          <tbody>${(users || []).map((u) => html`
            <tr key=${u.id} data-user=${u.name}>
              <td>${u.name}${u.id === me && html` <span class="muted">(you)</span>`}
                ${u.display_name && html`<div class="muted">${u.display_name}</div>`}</td>
              <td><select aria-label=${`Role of ${u.name}`} value=${u.role}
                          onChange=${(e) => changeRole(u, e.currentTarget.value, e.currentTarget)}>
                <option value="member">member</option><option value="admin">admin</option>
              </select></td>
              <td data-testid="password">${u.has_password ? "set" : "none"}</td>
              <td title=${u.created_at}>${relTime(u.created_at)}</td>
              <td class="actions">
                <button type="button" class="secondary" aria-label=${`${u.has_password ? "Replace" : "Set"} password of ${u.name}`}
                        onClick=${() => setPwFor(u)}>${u.has_password ? "Replace password" : "Set password"}</button>
                <button type="button" class="danger" aria-label=${`Delete user ${u.name}`}
                        onClick=${() => remove(u)}>Delete</button>
              </td>
            </tr>`)}</tbody>
        </table>
      </div>
      ${pwFor && html`<${PasswordDialog} user=${pwFor} self=${pwFor.id === me} onClose=${(done) => passwordDone(pwFor, done)} />`}
    </section>`;
}
