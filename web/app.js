// The Weft admin UI. Plain ES modules: preact, htm and @preact/signals
// come from web/node_modules through the import map the build writes into
// index.html (cmake/embed_web.mjs). htm templates escape every
// interpolated value, so API text is never parsed as HTML.
import { render } from "preact";
import { html } from "htm/preact";
import { signal } from "@preact/signals";
import { PolicyPage } from "./pages/policy.js";
import { AuditPage } from "./pages/audit.js";

// Every state-changing request carries this header: the controller refuses
// cookie-authenticated requests without it (a cross-site form cannot set
// it).
const REQUEST_HEADER = { "X-Weft-Request": "1" };

// Calls the REST API; resolves to the parsed JSON or throws an Error whose
// message is the API's own error message (e.error: the API's error object,
// e.status: the HTTP status). A string body is sent as it is (the policy
// document, whose text the controller locates errors in).
export async function api(method, path, body) {
  const init = { method, headers: { ...REQUEST_HEADER }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
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
    const err = new Error(msg || `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.error = json && json.error;
    throw err;
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

// Pages that live in modules of their own, by path (a minimal stand-in
// for the app shell's router, which replaces it).
const pages = { "/policy": PolicyPage, "/audit": AuditPage };

function App() {
  const Page = pages[location.pathname];
  return html`
    <header><h1>Weft</h1>
      ${session.value && html`<nav aria-label="Pages">
        <a href="/policy">Policy</a> <a href="/audit">Audit log</a></nav>`}
    </header>
    <main>
      ${!session.value
        ? html`<${Login} />`
        : Page
          ? html`<${Page} api=${api} />`
          : html`<p>Signed in as ${session.value.user && session.value.user.name}.</p>`}
    </main>`;
}

// A page's own URL (a link, a reload) with a live session cookie goes
// straight in.
if (pages[location.pathname])
  api("GET", "/api/v1/session").then((s) => { session.value = s; }, () => {});

render(html`<${App} />`, document.getElementById("app"));
