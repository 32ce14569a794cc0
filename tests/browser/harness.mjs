// What the browser tests share: the browser's path and launch, pass/fail
// reporting, a controller on a free loopback port, REST calls with a
// Bearer key, waiting, and logging in through the UI.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

// Debian's chromium (or $WEFT_CHROMIUM); exits when it is missing.
export function findBrowser(test) {
  const p = process.env.WEFT_CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(p)) {
    console.error(`${test}: no browser at ${p}; scripts/deps.sh test installs Debian's chromium`);
    process.exit(1);
  }
  return p;
}

// Prints "ok"/"FAIL" per check and remembers the failures.
export const failures = [];
export function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Polls fn (async, truthy when done) every 100 ms; throws after ms.
export async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// `weft-controller serve` on a free loopback port with its data in
// dataDir (plus extra flags); resolves once /healthz answers. The result's
// out/log collect its stdout (the bootstrap key) and stderr.
export async function startController(bin, dataDir, extra = []) {
  const port = await freePort();
  const ctl = { base: `http://127.0.0.1:${port}`, out: "", log: "" };
  ctl.proc = spawn(bin, ["serve", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, ...extra],
    { stdio: ["ignore", "pipe", "pipe"] });
  ctl.proc.stdout.on("data", (d) => { ctl.out += d; });
  ctl.proc.stderr.on("data", (d) => { ctl.log += d; });
  await waitFor("the controller", async () => {
    if (ctl.proc.exitCode !== null) throw new Error(`the controller exited:\n${ctl.log}`);
    return (await fetch(`${ctl.base}/healthz`).catch(() => null))?.ok === true;
  });
  return ctl;
}

// The admin key the first `serve` on a new database prints.
export async function bootstrapKey(ctl) {
  await waitFor("the bootstrap key", () => /weft_api_\S+/.test(ctl.out), 5000);
  return ctl.out.match(/weft_api_\S+/)[0];
}

// SIGTERM to a child process (if it still runs) and its exit.
export async function stopProcess(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await exited;
}

// A REST call with a Bearer token; resolves to the JSON answer, throws
// with the status and body on an error status.
export async function rest(base, method, path, token, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Debian's chromium, headless.
export function launchBrowser(test) {
  return chromium.launch({
    executablePath: findBrowser(test), headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

// Logs in through the UI's form at base+path and waits for the shell.
export async function login(page, base, user, password, path = "/") {
  await page.goto(`${base}${path}`, { waitUntil: "networkidle" });
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Pages" }).waitFor({ timeout: 10000 });
}

// Collects uncaught errors and CSP violations of a page (check them at
// the end with cspViolations()).
export async function watchPage(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error" && !m.text().includes("Failed to load resource")) errors.push(m.text()); });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return errors;
}
