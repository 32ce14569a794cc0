// The Users, Auth keys and API keys pages in a real browser (Debian's
// chromium via playwright-core) against a real weft-controller on a fresh
// SQLite database, with a real weft-agent --no-tun:
//  - an admin (made through REST with the bootstrap key) logs in with a
//    password, creates the member "dana" and sets her password in the UI
//    (the dialog refuses two different passwords without sending them);
//  - the admin creates an auth key for dana; the key and the join command
//    are shown once (Copy puts the key on the clipboard; the panel is gone
//    after Dismiss and after leaving the page); the agent started with the
//    join command's own --controller and --auth-key registers a node that
//    appears on the Nodes page without a reload and belongs to dana;
//  - dana logs in (second browser context, 360 px): she sees her key and
//    not the admin's, gets no Users / API keys links, and /users shows the
//    API's 403 message instead of data;
//  - an API key made in the UI works as a Bearer key on GET /api/v1/users
//    until it is revoked in the UI (confirmation; Cancel keeps it), then 401;
//  - revoking an auth key, changing a role and deleting a user ask first;
//    API errors (existing name, invalid name, deleting a user who owns
//    nodes) are shown as the API's message.
// Screenshots go to ARTIFACT_DIR.
//   node ui_keys.mjs CONTROLLER_BIN AGENT_BIN ARTIFACT_DIR
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bootstrapKey, check, failures, findBrowser, freePort, launchBrowser, login, rest, startController,
  stopProcess, waitFor, watchPage,
} from "./harness.mjs";
import { createServer } from "node:http";

const [bin, agentBin, artifacts] = process.argv.slice(2);
findBrowser("ui_keys");
const dir = mkdtempSync(join(tmpdir(), "weft-uikeys-"));
mkdirSync(artifacts, { recursive: true });
let ctl, browser, agent, agentLog = "";

const ADMIN_PW = "root password 1";
const DANA_PW = "dana password 22";
const pubkey = () => generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(12).toString("base64");
const alertText = (scope) => scope.getByRole("alert").first().textContent({ timeout: 10000 });
const userRow = (page, name) => page.locator(`tr[data-user="${name}"]`);
const keyRow = (page, prefix) => page.locator(`tr[data-key="${prefix}"]`);
async function go(page, link, heading) {
  await page.getByRole("link", { name: link, exact: true }).click();
  await page.getByRole("heading", { name: heading, exact: true }).waitFor({ timeout: 10000 });
}
// The one-time panel's key field and the prefix it names.
async function shownKey(page, label) {
  const field = page.getByLabel(label, { exact: true });
  await field.waitFor({ timeout: 10000 });
  return field.inputValue();
}

try {
  ctl = await startController(bin, join(dir, "ctl"),
    ["--offline-grace", "2s", "--presence-interval", "100ms", "--poll-keepalive", "5s"]);
  const base = ctl.base;
  const K = await bootstrapKey(ctl);
  const root = await rest(base, "POST", "/api/v1/users", K, { name: "root", role: "admin" });
  await rest(base, "PUT", `/api/v1/users/${root.id}/password`, K, { password: ADMIN_PW });
  const apiMessage = async (method, path, body, headers = { Authorization: `Bearer ${K}` }) => {
    const r = await fetch(`${base}${path}`, { method, headers: { ...headers, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, message: (await r.json()).error.message };
  };

  browser = await launchBrowser("ui_keys");
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await ctx.newPage();
  const errors = await watchPage(page);
  const unsafe = [];
  let passwordPuts = 0;
  page.on("request", (r) => {
    if (!["GET", "HEAD"].includes(r.method()) && r.url().startsWith(base) && r.headers()["x-weft-request"] !== "1")
      unsafe.push(`${r.method()} ${r.url()}`);
    if (r.method() === "PUT" && r.url().endsWith("/password")) passwordPuts++;
  });
  let loads = 0;
  page.on("load", () => { loads++; });

  // 1. Users: the admin logs in with the password; creates dana.
  await login(page, base, "root", ADMIN_PW);
  for (const l of ["Users", "Auth keys", "API keys"])
    check(await page.getByRole("link", { name: l, exact: true }).isVisible(), `the admin's navigation has ${l}`);
  await go(page, "Users", "Users");
  await userRow(page, "root").waitFor({ timeout: 10000 });
  check((await userRow(page, "root").getByTestId("password").textContent()) === "set",
    "the users list shows that root has a password");
  await page.getByLabel("Name", { exact: true }).fill("dana");
  await page.getByLabel("Role", { exact: true }).selectOption("member");
  await page.getByRole("button", { name: "Create user" }).click();
  await userRow(page, "dana").waitFor({ timeout: 10000 });
  check((await userRow(page, "dana").getByLabel("Role of dana").inputValue()) === "member", "dana is created as a member");
  check((await userRow(page, "dana").getByTestId("password").textContent()) === "none", "dana has no password yet");
  const dana = (await rest(base, "GET", "/api/v1/users?name=dana", K)).items[0];
  check(dana && dana.role === "member" && dana.has_password === false, "the API has dana as a member without a password");

  // API errors are the API's message: an existing name, an invalid name.
  await page.getByLabel("Name", { exact: true }).fill("dana");
  await page.getByRole("button", { name: "Create user" }).click();
  const dupShown = await alertText(page.locator("form.keyform"));
  check(dupShown === "a user named dana exists", `creating an existing name shows the API's message ("${dupShown}")`);
  await page.getByLabel("Name", { exact: true }).fill("Dana Smith");
  await page.getByRole("button", { name: "Create user" }).click();
  const bad = await apiMessage("POST", "/api/v1/users", { name: "Dana Smith" });
  await page.locator("form.keyform").getByText(bad.message).waitFor({ timeout: 10000 });
  check(bad.status === 400, `an invalid name shows the API's 400 message ("${bad.message}")`);

  // Dana's password through the dialog: two different ones are refused
  // in the dialog and not sent; two equal ones are set.
  await page.getByRole("button", { name: "Set password of dana" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.waitFor();
  await dlg.getByLabel("New password").fill(DANA_PW);
  await dlg.getByLabel("Repeat the password").fill(`${DANA_PW}x`);
  await dlg.getByRole("button", { name: "Save password" }).click();
  check((await alertText(dlg)) === "The two passwords do not match.", "different passwords are refused in the dialog");
  check(passwordPuts === 0, `nothing is sent for different passwords (${passwordPuts} PUTs)`);
  await dlg.getByLabel("New password").fill("short");
  await dlg.getByLabel("Repeat the password").fill("short");
  await dlg.getByRole("button", { name: "Save password" }).click();
  const shortMsg = await apiMessage("PUT", `/api/v1/users/${dana.id}/password`, { password: "short" });
  await dlg.getByText(shortMsg.message).waitFor({ timeout: 10000 });
  check(true, `a too short password shows the API's message in the dialog ("${shortMsg.message}")`);
  await dlg.getByLabel("New password").fill(DANA_PW);
  await dlg.getByLabel("Repeat the password").fill(DANA_PW);
  await dlg.getByRole("button", { name: "Save password" }).click();
  await dlg.waitFor({ state: "hidden", timeout: 10000 });
  await waitFor("dana's password shown as set", async () =>
    (await userRow(page, "dana").getByTestId("password").textContent({ timeout: 1000 }).catch(() => "")) === "set", 10000);
  check((await rest(base, "GET", `/api/v1/users/${dana.id}`, K)).has_password === true, "the API has dana's password set");
  check(await page.getByRole("button", { name: "Replace password of dana" }).isVisible(), "the action becomes Replace password");
  await page.screenshot({ path: join(artifacts, "users.png"), fullPage: true });

  // A role change asks first; Cancel keeps the role.
  await page.getByLabel("Name", { exact: true }).fill("erin");
  await page.getByRole("button", { name: "Create user" }).click();
  await userRow(page, "erin").waitFor({ timeout: 10000 });
  await page.getByLabel("Role of erin").selectOption("admin");
  await dlg.waitFor();
  check((await dlg.textContent()).includes("Make erin an admin?"), "a role change asks first");
  await dlg.getByRole("button", { name: "Cancel" }).click();
  check((await page.getByLabel("Role of erin").inputValue()) === "member", "Cancel keeps the role in the page");
  check((await rest(base, "GET", "/api/v1/users?name=erin", K)).items[0].role === "member", "Cancel keeps the role in the API");
  await page.getByLabel("Role of erin").selectOption("admin");
  await dlg.getByRole("button", { name: "Change role" }).click();
  await page.getByText("erin is now an admin.").waitFor({ timeout: 10000 });
  check((await rest(base, "GET", "/api/v1/users?name=erin", K)).items[0].role === "admin", "the confirmed role change is saved");

  // Deleting a user asks first; Cancel keeps, confirm removes.
  await page.getByRole("button", { name: "Delete user erin" }).click();
  await dlg.waitFor();
  check((await dlg.textContent()).includes("Delete user erin?"), "deleting a user asks first");
  await dlg.getByRole("button", { name: "Cancel" }).click();
  check(await userRow(page, "erin").isVisible(), "Cancel keeps the user");
  await page.getByRole("button", { name: "Delete user erin" }).click();
  await dlg.getByRole("button", { name: "Delete" }).click();
  await userRow(page, "erin").waitFor({ state: "detached", timeout: 10000 });
  check((await rest(base, "GET", "/api/v1/users?name=erin", K)).items.length === 0, "a confirmed delete removes the user");

  // 2. Auth keys: one for the admin (dismissed), one for dana.
  await go(page, "Auth keys", "Auth keys");
  await page.getByLabel("User", { exact: true }).selectOption({ label: "root (admin)" });
  await page.getByLabel("Reusable (registers any number of nodes)").check();
  await page.getByRole("button", { name: "Create auth key" }).click();
  const rootKey = await shownKey(page, "Auth key");
  const rootPrefix = rootKey.split("_")[2];
  check(/^weft_auth_[0-9a-f]{12}_\S+$/.test(rootKey), "the admin's new key is shown");
  await keyRow(page, rootPrefix).waitFor({ timeout: 10000 });
  check((await keyRow(page, rootPrefix).textContent()).includes("root"), "the admin's key is listed as root's");
  await page.getByRole("button", { name: "Done, dismiss" }).click();
  check(await page.getByLabel("Auth key", { exact: true }).count() === 0, "Dismiss removes the key panel");
  check(!(await page.content()).includes(rootKey), "the dismissed key is nowhere in the page");

  await page.getByLabel("User", { exact: true }).selectOption({ label: "dana (member)" });
  await page.getByLabel("Expires in").fill("30d");
  await page.getByRole("button", { name: "Create auth key" }).click();
  const danaKey = await shownKey(page, "Auth key");
  const join1 = await page.getByLabel("Join command", { exact: true }).inputValue();
  const danaPrefix = danaKey.split("_")[2];
  check(join1 === `weft-agent up --controller ${base} --auth-key ${danaKey}`, `the join command is exact ("${join1}")`);
  check(await page.getByText("it will not be shown again").isVisible(), "the panel says the key will not be shown again");
  await page.getByRole("button", { name: "Copy auth key" }).click();
  await page.getByText("Copied to the clipboard.").waitFor({ timeout: 5000 });
  check((await page.evaluate(() => navigator.clipboard.readText())) === danaKey, "Copy puts the key on the clipboard");
  await keyRow(page, danaPrefix).waitFor({ timeout: 10000 });
  const danaRow = await keyRow(page, danaPrefix).textContent();
  check(danaRow.includes("dana") && danaRow.includes("usable") && danaRow.includes("in 30 d"),
    `dana's key is listed: dana, usable, expiring in 30 days ("${danaRow}")`);
  await page.screenshot({ path: join(artifacts, "authkeys-created.png"), fullPage: true });

  // Leaving the page drops the panel.
  await go(page, "Nodes", "Nodes");
  await go(page, "Auth keys", "Auth keys");
  await keyRow(page, danaPrefix).waitFor({ timeout: 10000 });
  check(await page.getByLabel("Auth key", { exact: true }).count() === 0 && !(await page.content()).includes(danaKey),
    "after leaving the page the key is not shown again");

  // 3. The agent joins with the shown command; its node appears live and
  // is dana's.
  await go(page, "Nodes", "Nodes");
  await page.getByText("live", { exact: true }).waitFor({ timeout: 10000 });
  const loadsBefore = loads;
  const words = join1.split(" ");
  check(words[0] === "weft-agent" && words[1] === "up", "the join command runs weft-agent up");
  if (agentBin && existsSync(agentBin)) {
    agent = spawn(agentBin, [...words.slice(1), "--no-tun", "--hostname", "dana-laptop",
      "--state-dir", join(dir, "agent"), "--socket", join(dir, "agent.sock")],
    { stdio: ["ignore", "pipe", "pipe"] });
    agent.stdout.on("data", (d) => { agentLog += d; });
    agent.stderr.on("data", (d) => { agentLog += d; });
    const nodeRow = page.locator('tr[data-node="dana-laptop"]');
    await nodeRow.waitFor({ timeout: 30000 });
    await waitFor("dana-laptop online", async () =>
      (await nodeRow.getByTestId("state").textContent({ timeout: 1000 }).catch(() => "")) === "online", 30000);
    check(loads === loadsBefore, "the agent's node appears and turns online without a reload");
    const nodes = (await rest(base, "GET", `/api/v1/nodes?user_id=${dana.id}`, K)).items;
    check(nodes.length === 1 && nodes[0].name === "dana-laptop", "the node belongs to dana");
  } else {
    check(false, `no agent binary at ${agentBin}`);
  }

  // 4. Dana: her key only, no admin pages, /users refused by the API.
  const dctx = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const dpage = await dctx.newPage();
  const derrors = await watchPage(dpage);
  await login(dpage, base, "dana", DANA_PW);
  check(true, "dana logs in with the password set in the UI");
  check(await dpage.getByRole("link", { name: "Users", exact: true }).count() === 0, "dana has no Users link");
  check(await dpage.getByRole("link", { name: "API keys", exact: true }).count() === 0, "dana has no API keys link");
  await go(dpage, "Auth keys", "Auth keys");
  await keyRow(dpage, danaPrefix).waitFor({ timeout: 10000 });
  check(await keyRow(dpage, rootPrefix).count() === 0 && await dpage.locator("tbody tr").count() === 1,
    "dana sees her auth key and not the admin's");
  check((await keyRow(dpage, danaPrefix).getByTestId("state").textContent()) === "used",
    "her one-off key shows as used after the registration");
  check(await dpage.getByLabel("Tags").count() === 0 && await dpage.getByLabel("User", { exact: true }).count() === 0,
    "dana's form offers no tags and no user");
  const docWidth = await dpage.evaluate(() => document.documentElement.scrollWidth);
  check(docWidth <= 360, `the Auth keys page fits 360 px (${docWidth})`);
  await dpage.screenshot({ path: join(artifacts, "authkeys-member-360.png"), fullPage: true });
  await go(dpage, "Nodes", "Nodes");
  await dpage.locator('tr[data-node="dana-laptop"]').waitFor({ timeout: 10000 });
  check(await dpage.locator("tbody tr").count() === 1, "dana's Nodes page has her node only");
  const dcookie = (await dctx.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const forbidden = await apiMessage("GET", "/api/v1/users", undefined, { Cookie: dcookie });
  await dpage.goto(`${base}/users`, { waitUntil: "networkidle" });
  await dpage.getByRole("heading", { name: "Users", exact: true }).waitFor({ timeout: 10000 });
  const shown403 = await alertText(dpage);
  check(forbidden.status === 403 && shown403 === forbidden.message,
    `a direct visit to /users shows the API's 403 message ("${shown403}")`);
  check(await dpage.locator("tbody tr").count() === 0 && !(await dpage.content()).includes("root"),
    "and no user data");
  // A member changes her own password from the header: the current one
  // first; the change ends her session; the new one logs in.
  await dpage.getByRole("button", { name: "Change my password" }).click();
  const ddlg = dpage.getByRole("dialog");
  await ddlg.waitFor();
  await ddlg.getByLabel("Current password").fill(DANA_PW);
  await ddlg.getByLabel("New password").fill(`${DANA_PW}n`);
  await ddlg.getByLabel("Repeat the password").fill(`${DANA_PW}n`);
  await ddlg.getByRole("button", { name: "Save password" }).click();
  await dpage.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 10000 });
  await login(dpage, base, "dana", `${DANA_PW}n`);
  check(true, "a member changes her own password from the header and logs in with it");
  check(derrors.length === 0, `no errors in dana's page (${derrors.join(" | ")})`);
  await dctx.close();

  // 5. API keys: made in the UI, works as a Bearer key until revoked in
  // the UI.
  await go(page, "API keys", "API keys");
  await page.getByLabel("Description").fill("ci script");
  await page.getByLabel("User (the key gets this user's role)").selectOption({ label: "root (admin)" });
  await page.getByLabel("Expires in").fill("7d");
  await page.getByRole("button", { name: "Create API key" }).click();
  const apiKey = await shownKey(page, "API key");
  const apiPrefix = apiKey.split("_")[2];
  check(/^weft_api_[0-9a-f]{12}_\S+$/.test(apiKey), "the new API key is shown");
  await keyRow(page, apiPrefix).waitFor({ timeout: 10000 });
  const apiRow = await keyRow(page, apiPrefix).textContent();
  check(apiRow.includes("ci script") && apiRow.includes("root") && apiRow.includes("admin") && apiRow.includes("active"),
    `the API key is listed with its description, user, role and state ("${apiRow}")`);
  const usersWith = async (key) => fetch(`${base}/api/v1/users`, { headers: { Authorization: `Bearer ${key}` } });
  let r = await usersWith(apiKey);
  const listed = r.status === 200 ? (await r.json()).items.map((u) => u.name) : [];
  check(r.status === 200 && listed.includes("dana"), `the shown key works as a Bearer key (${r.status})`);
  await page.screenshot({ path: join(artifacts, "apikeys.png"), fullPage: true });
  await page.getByRole("button", { name: "Done, dismiss" }).click();
  await page.getByRole("button", { name: `Revoke API key ${apiPrefix}` }).click();
  await dlg.waitFor();
  check((await dlg.textContent()).includes(`Revoke API key ${apiPrefix} (ci script)?`), "revoking an API key asks first");
  await dlg.getByRole("button", { name: "Cancel" }).click();
  check((await usersWith(apiKey)).status === 200, "Cancel keeps the API key working");
  await page.getByRole("button", { name: `Revoke API key ${apiPrefix}` }).click();
  await dlg.getByRole("button", { name: "Revoke" }).click();
  await keyRow(page, apiPrefix).waitFor({ state: "detached", timeout: 10000 });
  r = await usersWith(apiKey);
  check(r.status === 401, `the revoked API key gets 401 (${r.status})`);
  await page.getByLabel("Include revoked").check();
  check((await keyRow(page, apiPrefix).getByTestId("state").textContent()) === "revoked", "Include revoked lists it as revoked");

  // Revoking an auth key asks first; the revoked key registers nothing.
  await go(page, "Auth keys", "Auth keys");
  await page.getByRole("button", { name: `Revoke auth key ${rootPrefix}` }).click();
  await dlg.waitFor();
  check((await dlg.textContent()).includes(`Revoke auth key ${rootPrefix}?`), "revoking an auth key asks first");
  await dlg.getByRole("button", { name: "Revoke" }).click();
  await keyRow(page, rootPrefix).waitFor({ state: "detached", timeout: 10000 });
  await page.getByLabel("Include revoked").check();
  await keyRow(page, rootPrefix).waitFor({ timeout: 10000 });
  check((await keyRow(page, rootPrefix).getByTestId("state").textContent()) === "revoked", "the revoked auth key shows as revoked");
  const reg = await fetch(`${base}/api/v1/register`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ auth_key: rootKey, public_key: pubkey(), hostname: "late" }) });
  check(reg.status === 401, `the revoked auth key registers nothing (${reg.status})`);

  // Deleting dana, who owns a node: the API's 409 message.
  await go(page, "Users", "Users");
  await page.getByRole("button", { name: "Delete user dana" }).click();
  await dlg.getByRole("button", { name: "Delete" }).click();
  const ownsShown = await alertText(page.locator("section.users"));
  check(ownsShown === "user dana still owns nodes; delete them first", `deleting a user who owns nodes shows the API's message ("${ownsShown}")`);
  check(await userRow(page, "dana").isVisible(), "and keeps the user");

  // At 360 px.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: join(artifacts, "users-360.png"), fullPage: true });
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  check(w <= 360, `the Users page fits 360 px (${w})`);

  // CSRF in the browser: a page of another origin on the same site
  // (127.0.0.1, another port: the SameSite=Strict cookie IS sent) posts
  // a form to the API (a text/plain body that is valid JSON for a new
  // user: {"name":"mallory","display_name":"=x"}); the controller
  // refuses it (403, the API's message) and creates nothing. A script there that adds the custom
  // header is stopped by the browser (a CORS preflight the controller
  // does not grant), so nothing is sent either.
  const evilPort = await freePort();
  const target = `${base}/api/v1/users`;
  const evil = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(req.url === "/form"
      ? `<form id="f" method="POST" action="${target}" enctype="text/plain">
           <input name='{"name":"mallory","display_name":"' value='x"}' /></form>
         <script>document.getElementById("f").submit();</script>`
      : `<script>
           fetch(${JSON.stringify(target)}, { method: "POST", credentials: "include",
             headers: { "X-Weft-Request": "1", "Content-Type": "application/json" },
             body: JSON.stringify({ name: "mallory2" }) })
             .then((r) => { document.title = "sent " + r.status; },
                   (e) => { document.title = "blocked"; });
         </script>`);
  });
  await new Promise((r) => evil.listen(evilPort, "127.0.0.1", r));
  try {
    const epage = await page.context().newPage();
    const [resp] = await Promise.all([
      epage.waitForResponse((r) => r.url() === target && r.request().method() === "POST", { timeout: 10000 }),
      epage.goto(`http://127.0.0.1:${evilPort}/form`),
    ]);
    const body = await resp.json().catch(() => ({}));
    check(resp.status() === 403 && body.error && body.error.code === "forbidden",
      `a cross-origin form post with the session cookie is refused (${resp.status()} ${body.error && body.error.message})`);
    await epage.goto(`http://127.0.0.1:${evilPort}/fetch`);
    await epage.waitForFunction(() => document.title === "blocked" || document.title.startsWith("sent"), null, { timeout: 10000 });
    check((await epage.title()) === "blocked", `a cross-origin fetch with the custom header is blocked by the browser (${await epage.title()})`);
    const names = (await rest(base, "GET", "/api/v1/users", K)).items.map((u) => u.name);
    check(!names.includes("mallory") && !names.includes("mallory2"), "neither cross-origin request created a user");
    await epage.close();
  } finally {
    evil.close();
  }

  // The admin changes its own password: the dialog asks for the current
  // one, a wrong one shows the API's message and changes nothing, the
  // right one ends the session (the login form again) and the new
  // password logs in.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole("button", { name: "Replace password of root" }).click();
  await dlg.waitFor();
  await dlg.getByLabel("Current password").fill("not the password");
  await dlg.getByLabel("New password").fill(`${ADMIN_PW}b`);
  await dlg.getByLabel("Repeat the password").fill(`${ADMIN_PW}b`);
  await dlg.getByRole("button", { name: "Save password" }).click();
  const wrongCur = await alertText(dlg);
  check(wrongCur === "the current password is wrong", `a wrong current password shows the API's message ("${wrongCur}")`);
  await dlg.getByLabel("Current password").fill(ADMIN_PW);
  await dlg.getByRole("button", { name: "Save password" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 10000 });
  check(true, "changing one's own password ends the session: the login form is back");
  await login(page, base, "root", `${ADMIN_PW}b`, "/users");
  check(true, "the new password logs in");

  check(unsafe.length === 0, `every state-changing request sent X-Weft-Request (${unsafe.join(" | ")})`);
  const csp = await page.evaluate(() => window.__cspViolations);
  check(csp.length === 0, `no CSP violation (${csp.join(" | ")})`);
  check(errors.length === 0, `no errors in the admin's page (${errors.join(" | ")})`);
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
