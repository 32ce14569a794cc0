// What the browser tests share: the browser's path, pass/fail reporting, a
// free loopback port, starting the controller (and agents), REST calls
// with a bearer token, and the login form.
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn (sync or async) every 100 ms until it returns true; throws
// "timed out waiting for WHAT" after ms.
export async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// Sends SIGTERM (if still running) and waits for the exit.
export async function stopProcess(p) {
  if (!p) return;
  if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
  await new Promise((r) => (p.exitCode !== null || p.signalCode !== null) ? r() : p.once("exit", r));
}

// Starts `bin serve` on a free loopback port with --data-dir dataDir and
// the extra args, and waits for /healthz. Returns { proc, base, out(),
// log() } (stdout: the bootstrap key is printed there; stderr: the log).
export async function startController(bin, dataDir, args = []) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(bin, ["serve", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, ...args],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", log = "";
  proc.stdout.on("data", (d) => { out += d; });
  proc.stderr.on("data", (d) => { log += d; });
  const ctl = { proc, base, out: () => out, log: () => log };
  try {
    await waitFor("the controller's /healthz", async () => {
      if (proc.exitCode !== null) throw new Error(`the controller exited: ${log}`);
      return (await fetch(`${base}/healthz`).catch(() => null))?.ok === true;
    }, 30000);
  } catch (e) {
    await stopProcess(proc);
    throw e;
  }
  return ctl;
}

// The bootstrap API key a controller on a new database prints.
export async function bootstrapKey(ctl) {
  await waitFor("the bootstrap key", () => /weft_api_\S+/.test(ctl.out()), 5000);
  return ctl.out().match(/weft_api_\S+/)[0];
}

// REST with a bearer token; resolves to the JSON answer, throws on an
// error status with the body in the message.
export async function rest(base, method, path, token, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return json;
}

// A node registered through REST with a fresh Ed25519 key.
export async function register(base, authKey, hostname, routes) {
  const publicKey = generateKeyPairSync("ed25519").publicKey
    .export({ format: "der", type: "spki" }).subarray(12).toString("base64");
  const r = await fetch(`${base}/api/v1/register`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ auth_key: authKey, public_key: publicKey, hostname, os: "linux", version: "test",
      ...(routes ? { advertised_routes: routes } : {}) }),
  });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${await r.text()}`);
  return r.json();
}

// A real `weft-agent up --no-tun` joining the controller at base with its
// state under dir. Returns the process; log() its output.
export function startAgent(agentBin, base, dir, hostname, authKey) {
  const proc = spawn(agentBin, ["up", "--controller", base, "--state-dir", join(dir, `agent-${hostname}`),
    "--socket", join(dir, `agent-${hostname}.sock`), "--no-tun", "--hostname", hostname, "--auth-key", authKey],
  { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stdout.on("data", (d) => { log += d; });
  proc.stderr.on("data", (d) => { log += d; });
  proc.log = () => log;
  return proc;
}

// Debian's chromium, headless.
export function launchBrowser(executablePath) {
  return chromium.launch({ executablePath, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}

// Logs in through the form at base + path and waits for the navigation.
export async function login(page, base, user, password, path = "/") {
  await page.goto(`${base}${path}`, { waitUntil: "networkidle" });
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Pages" }).waitFor({ timeout: 10000 });
}
