// The admin UI's shell, Overview and Nodes pages in a real browser (Debian's
// chromium via playwright-core) against a real weft-controller on a fresh
// SQLite database, with a real weft-agent --no-tun:
//  - an admin (user + password made through REST with the bootstrap key)
//    logs in; a reload keeps the session (the cookie skips the form);
//  - a node registered through REST with an auth key appears on the Nodes
//    page without a reload; an agent's node turns online when the agent
//    starts and offline when it stops, without a reload;
//  - search, state filter, sort, approve routes, rename (dialog) and delete
//    (confirmation)
//    work and every state-changing request carries X-Weft-Request;
//  - the Overview shows the counts, the version and the database;
//  - a member sees only its own node; logout returns to the login form and
//    the old cookie is refused (401).
// Screenshots of every page go to ARTIFACT_DIR.
//   node ui_nodes.mjs CONTROLLER_BIN AGENT_BIN ARTIFACT_DIR
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bootstrapKey, check, failures, findBrowser, launchBrowser, login as uiLogin, rest as restAt,
  startController, stopProcess, waitFor,
} from "./harness.mjs";

const [bin, agentBin, artifacts] = process.argv.slice(2);
findBrowser("ui_nodes");

const dir = mkdtempSync(join(tmpdir(), "weft-uinodes-"));
mkdirSync(artifacts, { recursive: true });
let ctl, browser, agent, agentLog = "";
let base;
const rest = (method, path, token, body) => restAt(base, method, path, token, body);
const pubkey = () => generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(12).toString("base64");
const register = (authKey, hostname, routes) => fetch(`${base}/api/v1/register`, {
  method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ auth_key: authKey, public_key: pubkey(), hostname, os: "linux", version: "test", ...(routes ? { advertised_routes: routes } : {}) }),
}).then(async (r) => { if (r.status !== 201) throw new Error(`register: ${r.status} ${await r.text()}`); return r.json(); });
const login = (page, user, password) => uiLogin(page, base, user, password);
const row = (page, name) => page.locator(`tr[data-node="${name}"]`);
const stateOf = (page, name) => row(page, name).getByTestId("state").textContent({ timeout: 1000 }).catch(() => null);

try {
  // Short presence times so online/offline show within seconds.
  ctl = await startController(bin, join(dir, "ctl"),
    ["--offline-grace", "2s", "--presence-interval", "100ms", "--poll-keepalive", "5s"]);
  base = ctl.base;
  const K = await bootstrapKey(ctl);

  // An admin and a member with passwords, through REST.
  const admin = await rest("POST", "/api/v1/users", K, { name: "alice", role: "admin" });
  await rest("PUT", `/api/v1/users/${admin.id}/password`, K, { password: "alice password 1" });
  const member = await rest("POST", "/api/v1/users", K, { name: "bob", role: "member" });
  await rest("PUT", `/api/v1/users/${member.id}/password`, K, { password: "bob password 12" });
  const bobKey = (await rest("POST", "/api/v1/api-keys", K, { user_id: member.id })).key;
  const bobAuth = (await rest("POST", "/api/v1/auth-keys", bobKey, {})).key;
  await register(bobAuth, "bobs-laptop");
  await rest("POST", "/api/v1/relays", K, { name: "eu-1", region: "eu", address: "127.0.0.1:3478" });

  browser = await launchBrowser("ui_nodes");
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await ctx.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
  const unsafe = [];
  page.on("request", (r) => {
    if (!["GET", "HEAD"].includes(r.method()) && r.url().startsWith(base) && r.headers()["x-weft-request"] !== "1")
      unsafe.push(`${r.method()} ${r.url()}`);
  });
  let watchStarts = 0;
  page.on("request", (r) => { if (r.url().includes("/api/v1/nodes/watch?wait=0")) watchStarts++; });
  let loads = 0;
  page.on("load", () => { loads++; });

  await login(page, "alice", "alice password 1");
  check(await page.getByRole("heading", { name: "Overview" }).isVisible(), "after login the Overview page shows");
  await page.getByTestId("nodes-offline").waitFor();
  check((await page.getByTestId("nodes-offline").textContent()) === "1", "the Overview counts bob's offline node");
  check(await page.getByText("SQLite").isVisible(), "the Overview names the database");
  check(await page.getByRole("cell", { name: "eu-1" }).isVisible(), "the Overview lists the relay");

  // A reload keeps the session: the cookie skips the login form.
  await page.reload({ waitUntil: "load" }); // not networkidle: the Overview holds a watch
  await page.getByRole("navigation", { name: "Pages" }).waitFor({ timeout: 10000 });
  check(!(await page.getByLabel("Password", { exact: true }).isVisible()), "a reload with a valid cookie skips the login form");

  // The Nodes page, by the navigation (client-side, no load): it shares
  // the Overview's watch loop (web/lib/live.js), so no new one starts.
  const loadsBefore = loads;
  watchStarts = 0;
  await page.getByRole("link", { name: "Nodes" }).click();
  await page.getByRole("heading", { name: "Nodes" }).waitFor();
  check(new URL(page.url()).pathname === "/nodes", "the Nodes link routes to /nodes");
  await page.getByText("live", { exact: true }).waitFor({ timeout: 10000 });
  await row(page, "bobs-laptop").waitFor({ timeout: 10000 });
  check(true, "the admin sees bob's node");

  // A node registered through REST appears without a reload.
  const tagKey = (await rest("POST", "/api/v1/auth-keys", K, { user_id: admin.id, reusable: true })).key;
  await register(tagKey, "rest-node", ["10.9.0.0/24"]);
  await row(page, "rest-node").waitFor({ timeout: 15000 });
  check(true, "a node registered through REST appears live");

  // A real agent: its node appears and turns online, then offline when it
  // stops, all without a reload.
  if (agentBin && existsSync(agentBin)) {
    agent = spawn(agentBin, ["up", "--controller", base, "--state-dir", join(dir, "agent"),
      "--socket", join(dir, "agent.sock"), "--no-tun", "--hostname", "agent-node", "--auth-key", tagKey],
    { stdio: ["ignore", "pipe", "pipe"] });
    agent.stdout.on("data", (d) => { agentLog += d; });
    agent.stderr.on("data", (d) => { agentLog += d; });
    await waitFor("agent-node online in the table", async () => (await stateOf(page, "agent-node")) === "online", 30000);
    check(true, "the agent's node turns online live");
    await page.screenshot({ path: join(artifacts, "nodes.png"), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 700 });
    await page.screenshot({ path: join(artifacts, "nodes-wide.png"), fullPage: true });
    await page.setViewportSize({ width: 360, height: 740 });
    // The Overview counts the online node (client-side navigation both ways).
    await page.getByRole("link", { name: "Overview" }).click();
    await waitFor("one online node on the Overview", async () =>
      (await page.getByTestId("nodes-online").textContent({ timeout: 1000 }).catch(() => null)) === "1", 10000);
    check(true, "the Overview counts the agent's online node");
    await page.screenshot({ path: join(artifacts, "overview-nodes.png"), fullPage: true });
    await page.getByRole("link", { name: "Nodes" }).click();
    await row(page, "agent-node").waitFor({ timeout: 10000 });
    await stopProcess(agent);
    agent = null;
    await waitFor("agent-node offline in the table", async () => (await stateOf(page, "agent-node")) === "offline", 30000);
    check(true, "the agent's node turns offline live when the agent stops");
  } else {
    check(false, `no agent binary at ${agentBin}`);
  }
  check(watchStarts === 0, `the Nodes page and the Overview share the page load's watch loop (${watchStarts} new starts)`);
  check(loads === loadsBefore, `no page load since the Nodes page opened (${loads - loadsBefore})`);

  // Search, filter and sort.
  await page.getByLabel("Search").fill("rest");
  check(await row(page, "rest-node").isVisible() && !(await row(page, "bobs-laptop").isVisible()), "search filters by name");
  await page.getByLabel("Search").fill("");
  await page.getByLabel("State").selectOption("online");
  check(!(await row(page, "bobs-laptop").isVisible()), "the state filter hides offline nodes");
  await page.getByLabel("State").selectOption("all");
  await page.getByRole("button", { name: /^Name/ }).click();
  const firstName = await page.locator("tbody tr").first().getAttribute("data-node");
  check(firstName === "rest-node", `sorting by name descending puts rest-node first (${firstName})`);

  // Approving the advertised route asks first, then shows it approved.
  check((await row(page, "rest-node").textContent()).includes("10.9.0.0/24 pending"), "the advertised route shows as pending");
  await page.getByRole("button", { name: "Approve routes of rest-node" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Approve" }).click();
  await waitFor("the route approved", async () => (await row(page, "rest-node").textContent()).includes("10.9.0.0/24 approved"), 10000);
  check(true, "approving the route shows it approved");

  // Rename through the dialog; delete asks first, Cancel keeps the node.
  await page.getByRole("button", { name: "Rename rest-node" }).click();
  await page.getByLabel("New name").fill("renamed-node");
  await page.screenshot({ path: join(artifacts, "nodes-rename.png"), fullPage: true });
  await page.getByRole("button", { name: "Save" }).click();
  await row(page, "renamed-node").waitFor({ timeout: 10000 });
  check(true, "rename through the dialog");
  await page.getByRole("button", { name: "Delete renamed-node" }).click();
  await page.getByRole("dialog").waitFor();
  check((await page.getByRole("dialog").textContent()).includes("cannot be undone"), "delete asks for confirmation");
  await page.screenshot({ path: join(artifacts, "nodes-confirm.png"), fullPage: true });
  await page.getByRole("button", { name: "Cancel" }).click();
  check(await row(page, "renamed-node").isVisible(), "Cancel keeps the node");
  await page.getByRole("button", { name: "Delete renamed-node" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await row(page, "renamed-node").waitFor({ state: "detached", timeout: 10000 });
  check(true, "a confirmed delete removes the node");
  check(unsafe.length === 0, `every state-changing request sent X-Weft-Request (${unsafe.join(" | ")})`);

  // A member sees only its own nodes.
  const mctx = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const mpage = await mctx.newPage();
  await login(mpage, "bob", "bob password 12");
  await mpage.getByRole("link", { name: "Nodes" }).click();
  await row(mpage, "bobs-laptop").waitFor({ timeout: 10000 });
  check((await mpage.locator("tbody tr").count()) === 1, "the member sees exactly its own node");
  check(!(await mpage.getByRole("button", { name: /^Delete/ }).count()), "the member gets no admin actions");
  await mpage.screenshot({ path: join(artifacts, "nodes-member.png"), fullPage: true });
  await mctx.close();

  // Logout: back to the login form; the old cookie is refused.
  const cookie = (await ctx.cookies()).find((c) => c.name === "__Host-weft_session");
  check(!!cookie, "the session cookie is set");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("Password", { exact: true }).waitFor({ timeout: 10000 });
  check(true, "logout shows the login form");
  if (cookie) {
    const r = await fetch(`${base}/api/v1/session`, { headers: { Cookie: `${cookie.name}=${cookie.value}` } });
    check(r.status === 401, `the old cookie gets 401 (${r.status})`);
  }
  const other = consoleErrors.filter((t) => !t.includes("Failed to load resource"));
  check(other.length === 0, `no console errors (${other.join(" | ")})`);
} catch (e) {
  failures.push(String(e && e.stack || e));
  console.error(e);
} finally {
  if (browser) await browser.close();
  await stopProcess(agent);
  if (ctl) await stopProcess(ctl.proc);
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`controller log:\n${ctl ? ctl.log : ""}`);
  console.error(`agent log:\n${agentLog}`);
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log(`screenshots in ${artifacts}`);
