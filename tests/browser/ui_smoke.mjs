// A real browser against a real controller: Debian's chromium, driven by
// playwright-core, loads the admin UI from a weft-controller started on a
// fresh SQLite database. The login form renders with labelled controls,
// the page loads with no console error and no CSP violation, and a login
// attempt shows the API's own error message. A screenshot is saved.
//   node ui_smoke.mjs CONTROLLER_BIN ARTIFACT_DIR
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { check, failures, findBrowser, freePort } from "./harness.mjs";

const [bin, artifacts] = process.argv.slice(2);
const browserPath = findBrowser("ui_smoke");

const dir = mkdtempSync(join(tmpdir(), "weft-ui-"));
mkdirSync(artifacts, { recursive: true });
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const ctl = spawn(bin, ["serve", "--data-dir", dir, "--listen", `127.0.0.1:${port}`],
  { stdio: ["ignore", "ignore", "pipe"] });
let ctlLog = "";
ctl.stderr.on("data", (d) => { ctlLog += d; });
let browser;

try {
  let up = false;
  for (let i = 0; i < 300 && !up; i++) {
    try {
      up = (await fetch(`${base}/healthz`)).ok;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!up) throw new Error("the controller did not start");

  browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
  // CSP violations are reported to the page as events; a script added
  // through the DevTools protocol is not subject to the page's CSP.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  const res = await page.goto(`${base}/`, { waitUntil: "networkidle" });
  check(res && res.status() === 200, "GET / answers 200");
  const csp = res ? res.headers()["content-security-policy"] || "" : "";
  check(csp.includes("default-src 'self'") && !csp.includes("unsafe-inline") &&
        !csp.includes("unsafe-eval"), "CSP is strict");
  await page.getByLabel("User").waitFor({ timeout: 10000 });
  check(await page.getByRole("heading", { name: "Weft" }).isVisible(), "the Weft heading renders");
  check(await page.getByLabel("User").isVisible(), "the User field is labelled and visible");
  check(await page.getByLabel("Password").isVisible(), "the Password field is labelled and visible");
  check(await page.getByRole("button", { name: "Sign in" }).isEnabled(), "the Sign in button is enabled");
  await page.screenshot({ path: join(artifacts, "login.png"), fullPage: true });
  // The shell asks GET /api/v1/session whether a cookie is valid; with
  // none the answer is 401, which the browser logs. Nothing else.
  const onLoad = consoleErrors.filter((t) => !t.includes("status of 401"));
  check(onLoad.length === 0, `no console errors on load (${onLoad.join(" | ")})`);
  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `no CSP violations (${violations.join(" | ")})`);

  // A login attempt shows what the API answers, word for word (the
  // session endpoint may not exist yet: then its 404 message).
  const body = { user: "admin", password: "wrong password" };
  const api = await fetch(`${base}/api/v1/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Weft-Request": "1" },
    body: JSON.stringify(body),
  });
  const apiJson = await api.json();
  check(!api.ok && apiJson.error && apiJson.error.message, "the API refuses the login with an error message");
  const sent = page.waitForRequest((r) => r.url().endsWith("/api/v1/session"));
  await page.getByLabel("User").fill(body.user);
  await page.getByLabel("Password").fill(body.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const req = await sent;
  check(req.method() === "POST" && req.headers()["x-weft-request"] === "1" &&
        req.headers()["content-type"] === "application/json", "the form POSTs JSON with X-Weft-Request");
  const alert = page.getByRole("alert");
  await alert.waitFor({ timeout: 10000 });
  check((await alert.textContent()) === apiJson.error.message,
        `the form shows the API's message ("${apiJson.error.message}")`);
  await page.screenshot({ path: join(artifacts, "login-error.png"), fullPage: true });
  // The refused request itself is logged by the browser; nothing else.
  const other = consoleErrors.filter((t) => !t.includes("Failed to load resource"));
  check(other.length === 0, `no other console errors (${other.join(" | ")})`);
} catch (e) {
  failures.push(String(e && e.stack || e));
  console.error(e);
} finally {
  if (browser) await browser.close();
  ctl.kill("SIGTERM");
  await new Promise((r) => ctl.exitCode !== null ? r() : ctl.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`controller log:\n${ctlLog}`);
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log(`screenshots in ${artifacts}`);
