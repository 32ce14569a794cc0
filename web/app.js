// The Weft admin UI. Plain ES modules: preact, htm and @preact/signals
// come from web/node_modules through the import map the build writes into
// index.html (cmake/embed_web.mjs). htm templates escape every
// interpolated value, so API text is never parsed as HTML.
import { render } from "preact";
import { html } from "htm/preact";
import { signal } from "@preact/signals";

// Every state-changing request carries this header: the controller refuses
// cookie-authenticated requests without it (a cross-site form cannot set
// it).
const REQUEST_HEADER = { "X-Weft-Request": "1" };

// Calls the REST API; resolves to the parsed JSON or throws an Error whose
// message is the API's own error message.
export async function api(method, path, body) {
  const init = { method, headers: { ...REQUEST_HEADER }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new Error(`cannot reach the controller: ${e.message}`);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const msg = json && json.error && json.error.message;
    throw new Error(msg || `${res.status} ${res.statusText}`);
  }
  return json;
}

const session = signal(null);
const error = signal("");
const busy = signal(false);

async function login(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  error.value = "";
  busy.value = true;
  try {
    session.value = await api("POST", "/api/v1/session", {
      user: form.elements.user.value,
      password: form.elements.password.value,
    });
  } catch (e) {
    error.value = e.message;
  } finally {
    busy.value = false;
  }
}

function Login() {
  return html`
    <form class="card" onSubmit=${login} aria-labelledby="login-title">
      <h2 id="login-title">Sign in</h2>
      <label for="login-user">User</label>
      <input id="login-user" name="user" autocomplete="username" required />
      <label for="login-password">Password</label>
      <input id="login-password" name="password" type="password"
             autocomplete="current-password" required />
      <button type="submit" disabled=${busy.value}>Sign in</button>
      ${error.value && html`<p class="error" role="alert">${error.value}</p>`}
    </form>`;
}

function App() {
  return html`
    <header><h1>Weft</h1></header>
    <main>
      ${session.value
        ? html`<p>Signed in as ${session.value.user && session.value.user.name}.</p>`
        : html`<${Login} />`}
    </main>`;
}

render(html`<${App} />`, document.getElementById("app"));
