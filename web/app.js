// The Weft admin UI shell: login state, navigation and the router. Plain
// ES modules: preact, htm and @preact/signals come from web/node_modules,
// and the UI's own modules ("@weft/...") from web/, through the import map
// the build writes into index.html (cmake/embed_web.mjs). htm templates
// escape every interpolated value, so API text is never parsed as HTML.
// The pages live in web/pages/, listed in web/routes.js.
import { render } from "preact";
import { html } from "htm/preact";
import { signal } from "@preact/signals";
import { api, setUnauthenticatedHandler } from "@weft/api.js";
import { DialogHost } from "@weft/ui.js";
import { PasswordDialog } from "@weft/password.js";
import { routes } from "@weft/routes.js";

// undefined while the first session check runs, null when logged out,
// else GET /api/v1/session's answer.
const session = signal(undefined);
const error = signal("");
const busy = signal(false);
const path = signal(location.pathname);
const pwOpen = signal(false);

setUnauthenticatedHandler(() => { session.value = null; });

export function navigate(to) {
  if (to !== location.pathname) history.pushState(null, "", to);
  path.value = to;
}
addEventListener("popstate", () => { path.value = location.pathname; });

// A valid cookie skips the login form.
async function checkSession() {
  try {
    session.value = await api("GET", "/api/v1/session", undefined, { quiet401: true });
  } catch (e) {
    session.value = null;
    if (e.status !== 401) error.value = e.message;
  }
}

async function login(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  error.value = "";
  busy.value = true;
  try {
    await api("POST", "/api/v1/session", {
      user: form.elements.user.value,
      password: form.elements.password.value,
    }, { quiet401: true });
    session.value = await api("GET", "/api/v1/session");
  } catch (e) {
    error.value = e.message;
  } finally {
    busy.value = false;
  }
}

async function logout() {
  try {
    await api("DELETE", "/api/v1/session");
  } catch (e) {
    if (e.status !== 401) {
      error.value = e.message;
      return;
    }
  }
  error.value = "";
  session.value = null;
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

function Nav({ s }) {
  const admin = s.role === "admin";
  const who = (s.user && s.user.name) || s.actor;
  return html`
    <nav aria-label="Pages">
      <ul>
        ${routes.filter((r) => admin || !r.admin).map((r) => html`
          <li><a href=${r.path} aria-current=${path.value === r.path ? "page" : undefined}
                 onClick=${(e) => {
                   if (e.button || e.metaKey || e.ctrlKey || e.shiftKey) return;
                   e.preventDefault();
                   navigate(r.path);
                 }}>${r.title}</a></li>`)}
      </ul>
      <span class="who">${who} (${s.role})</span>
      ${s.user && html`<button type="button" class="secondary" aria-label="Change my password"
                               onClick=${() => { pwOpen.value = true; }}>Password</button>`}
      <button type="button" class="secondary" onClick=${logout}>Log out</button>
      ${pwOpen.value && html`<${PasswordDialog} self=${true}
          user=${{ ...s.user, has_password: s.login === "password" }}
          onClose=${(done) => { pwOpen.value = false; if (done) checkSession(); }} />`}
    </nav>`;
}

function App() {
  const s = session.value;
  if (s === undefined) return html`<header><h1>Weft</h1></header>`;
  if (!s) {
    return html`<header><h1>Weft</h1></header><main><${Login} /></main>`;
  }
  const route = routes.find((r) => r.path === path.value) ||
    routes.find((r) => r.path !== "/" && path.value.startsWith(`${r.path}/`));
  const Page = route && route.page;
  if (route) document.title = `${route.title} · Weft`;
  return html`
    <header><h1>Weft</h1><${Nav} s=${s} /></header>
    <main>
      ${error.value && html`<p class="error" role="alert">${error.value}</p>`}
      ${Page ? html`<${Page} session=${s} navigate=${navigate} />`
             : html`<h2>Not found</h2><p>No page at ${path.value}.</p>`}
    </main>
    <${DialogHost} />`;
}

render(html`<${App} />`, document.getElementById("app"));
checkSession();
