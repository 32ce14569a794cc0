// The Policy and Audit pages in a real browser (Debian's chromium through
// playwright-core) against a real weft-controller on a fresh SQLite
// database. The admin and their password are made with the CLI
// (`users create`, `users set-password`); the browser logs in with it and:
//  - an invalid policy shows the controller's error at its line (the
//    gutter marks that line) and is not saved (GET /api/v1/policy keeps
//    version 0);
//  - a policy with a failing `tests` entry lists that entry as failed;
//  - a valid policy shows the diff, saves only after "Confirm save", and
//    its policy.update entry is on the Audit page; Export JSON downloads
//    what the API returns;
//  - a save based on an older version than the current one is refused
//    with the API's message, the other edit kept.
// Screenshots go to ARTIFACT_DIR.
//   node ui_policy.mjs CONTROLLER_BIN ARTIFACT_DIR
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { check, failures, findBrowser, freePort } from "./harness.mjs";

const [bin, artifacts] = process.argv.slice(2);
const browserPath = findBrowser("ui_policy");

function cli(dir, args, input) {
  const r = spawnSync(bin, [...args, "--data-dir", dir], { input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`weft-controller ${args.join(" ")}: ${r.stderr}`);
}

const PASSWORD = "correct horse battery staple";
const dir = mkdtempSync(join(tmpdir(), "weft-uipolicy-"));
mkdirSync(artifacts, { recursive: true });
cli(dir, ["users", "create", "admin", "--role", "admin"]);
cli(dir, ["users", "create", "alice"]);
cli(dir, ["users", "set-password", "admin"], `${PASSWORD}\n`);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const ctl = spawn(bin, ["serve", "--data-dir", dir, "--listen", `127.0.0.1:${port}`],
  { stdio: ["ignore", "ignore", "pipe"] });
let ctlLog = "";
ctl.stderr.on("data", (d) => { ctlLog += d; });
let browser;

// The editor's text: set through the textarea like typing would.
async function setPolicy(page, text) {
  const area = page.getByLabel("Policy document (JSON)");
  await area.fill(text);
}

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
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  // Log in on the Policy page's URL: the page opens after the login.
  await page.goto(`${base}/policy`, { waitUntil: "networkidle" });
  await page.getByLabel("User").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  const area = page.getByLabel("Policy document (JSON)");
  await area.waitFor({ timeout: 10000 });
  await page.getByText("Saved version 0").waitFor({ timeout: 10000 });
  check(true, "logged in with the password; the Policy page shows version 0");
  const cookies = await context.cookies();
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const getPolicy = async () => (await (await fetch(`${base}/api/v1/policy`,
    { headers: { Cookie: cookie } })).json());

  // 1. An unknown user on line 5: the error is shown at line 5, not saved.
  const invalid = [
    "{",
    "  \"acls\": [",
    "    {\"action\": \"accept\", \"src\": [\"admin\"], \"dst\": [\"*:22\"]},",
    "    {\"action\": \"accept\",",
    "     \"src\": [\"mallory\"], \"dst\": [\"*:443\"]}",
    "  ]",
    "}",
  ].join("\n");
  await setPolicy(page, invalid);
  await page.getByRole("button", { name: "Save…" }).click();
  const errs = page.locator("#policy-errors .error");
  await errs.first().waitFor({ timeout: 10000 });
  const errText = await errs.first().textContent();
  check(errText.includes("Line 5, column 14") && errText.includes("acls[1].src[0]: unknown user \"mallory\""),
    `the controller's error is shown at its line ("${errText}")`);
  const marked = await page.locator(".gutter .bad").allTextContents();
  check(marked.length === 1 && marked[0] === "5", `the gutter marks line 5 (${marked.join(",")})`);
  check(await page.getByRole("button", { name: "Confirm save" }).count() === 0,
    "no save is offered for an invalid policy");
  await page.screenshot({ path: join(artifacts, "policy-error.png"), fullPage: true });
  check((await getPolicy()).version === 0, "the invalid policy was not saved (version 0)");

  // The PUT itself refuses it with the same place (what Save would get).
  const put = await fetch(`${base}/api/v1/policy`, {
    method: "PUT",
    headers: { Cookie: cookie, "X-Weft-Request": "1", Origin: base },
    body: invalid,
  });
  const putBody = await put.json();
  check(put.status === 400 && putBody.error.details && putBody.error.details.line === 5,
    "PUT refuses it with error.details.line 5");

  // 2. A failing test: listed as failed at its line, the passing one too.
  const failing = [
    "{",
    "  \"acls\": [{\"action\": \"accept\", \"src\": [\"admin\"], \"dst\": [\"*:22\"]}],",
    "  \"tests\": [",
    "    {\"src\": \"admin\", \"accept\": [\"10.0.0.1:22\"]},",
    "    {\"src\": \"alice\", \"accept\": [\"10.0.0.1:22\"]}",
    "  ]",
    "}",
  ].join("\n");
  await setPolicy(page, failing);
  await page.getByRole("button", { name: "Check" }).click();
  const rows = page.locator("table.tests tbody tr");
  await rows.nth(1).waitFor({ timeout: 10000 });
  const r0 = await rows.nth(0).textContent();
  const r1 = await rows.nth(1).textContent();
  check(r0.includes("passed") && r0.includes("admin → 10.0.0.1:22"), `the passing test is listed (${r0})`);
  check(r1.includes("failed") && r1.includes("alice → 10.0.0.1:22") &&
        r1.includes("should be accepted but is denied") && r1.includes("5"),
    `the failing test is shown with the controller's message (${r1})`);
  check((await page.getByRole("heading", { name: /Tests: 1 passed, 1 failed/ }).count()) === 1,
    "the tests summary counts 1 passed, 1 failed");
  await page.screenshot({ path: join(artifacts, "policy-tests.png"), fullPage: true });
  check((await getPolicy()).version === 0, "checking saved nothing");

  // 3. A valid policy: the diff, then Confirm save.
  const valid = failing.replace("\"src\": [\"admin\"]", "\"src\": [\"admin\", \"alice\"]");
  await setPolicy(page, valid);
  await page.getByRole("button", { name: "Save…" }).click();
  const confirm = page.getByRole("button", { name: "Confirm save" });
  await confirm.waitFor({ timeout: 10000 });
  const diff = await page.getByLabel("Changes against the saved version").textContent();
  // Against the saved "{}": that line removed, the new ones added.
  check(/^-\s+1\s+\{\}$/m.test(diff) && /^\+\s+2\s+"acls": .*"admin", "alice"/m.test(diff),
    `the diff shows the removed and added lines (${diff.split("\n").slice(0, 3).join(" / ")})`);
  check((await getPolicy()).version === 0, "nothing is saved before the confirmation");
  await page.screenshot({ path: join(artifacts, "policy-review.png"), fullPage: true });
  await confirm.click();
  await page.getByText("Saved as version 1.").waitFor({ timeout: 10000 });
  const saved = await getPolicy();
  check(saved.version === 1 && JSON.stringify(saved.document) === JSON.stringify(JSON.parse(valid)),
    "the confirmed policy is saved as version 1");
  await page.screenshot({ path: join(artifacts, "policy-saved.png"), fullPage: true });

  // 4. The Audit page lists the change; a filter narrows to it; export.
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByRole("heading", { name: "Audit log" }).waitFor({ timeout: 10000 });
  const entry = page.locator("table.audit-table tbody tr", { hasText: "policy.update" });
  await entry.first().waitFor({ timeout: 10000 });
  check((await entry.count()) === 1, "the Audit page shows the policy.update entry");
  check((await entry.first().textContent()).includes("user:admin/session:"),
    "by the admin's session");
  await page.screenshot({ path: join(artifacts, "audit.png"), fullPage: true });
  await page.getByLabel("Action").fill("policy.update");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForFunction(() => document.querySelectorAll("table.audit-table tbody tr").length === 1);
  check(true, "filtering by action leaves the one entry");
  const [dl] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export JSON" }).click(),
  ]);
  const exported = JSON.parse(readFileSync(await dl.path(), "utf8"));
  const apiList = await (await fetch(`${base}/api/v1/audit?action=policy.update`,
    { headers: { Cookie: cookie } })).json();
  check(JSON.stringify(exported.items) === JSON.stringify(apiList.items),
    "Export JSON downloads the entries the API returns");

  // 5. A concurrent edit: another admin saves version 2 while this editor
  // still works from version 1; its save is refused with the API's
  // message and version 2 stays.
  await page.getByRole("link", { name: "Policy" }).click();
  await page.getByText("Saved version 1").waitFor({ timeout: 10000 });
  const other = await fetch(`${base}/api/v1/policy`, {
    method: "PUT",
    headers: { Cookie: cookie, "X-Weft-Request": "1", Origin: base },
    body: "{\"hosts\": {\"printer\": \"192.168.1.10\"}}",
  });
  check(other.status === 200, "another editor saves version 2");
  await setPolicy(page, "{}");
  await page.getByRole("button", { name: "Save…" }).click();
  await page.getByRole("button", { name: "Confirm save" }).click();
  const conflict = page.locator("#policy-errors .error");
  await conflict.first().waitFor({ timeout: 10000 });
  const conflictText = await conflict.first().textContent();
  check(conflictText === "the policy changed since version 1 (now version 2): reload it and apply your edits again",
    `the stale save shows the API's conflict message ("${conflictText}")`);
  const after = await getPolicy();
  check(after.version === 2 && after.document.hosts, "the other edit is kept (version 2)");
  await page.screenshot({ path: join(artifacts, "policy-conflict.png"), fullPage: true });

  // 6. At 360 px both pages fit the width (wide content scrolls inside
  // the editor and the table, not the page).
  await page.setViewportSize({ width: 360, height: 740 });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth);
  check(await overflow() <= 360, `the Policy page fits 360 px (${await overflow()})`);
  await page.screenshot({ path: join(artifacts, "policy-360.png"), fullPage: true });
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByRole("heading", { name: "Audit log" }).waitFor({ timeout: 10000 });
  await page.locator("table.audit-table tbody tr").first().waitFor({ timeout: 10000 });
  check(await overflow() <= 360, `the Audit page fits 360 px (${await overflow()})`);
  await page.screenshot({ path: join(artifacts, "audit-360.png"), fullPage: true });

  check(pageErrors.length === 0, `no uncaught page errors (${pageErrors.join(" | ")})`);
  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `no CSP violations (${violations.join(" | ")})`);
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
