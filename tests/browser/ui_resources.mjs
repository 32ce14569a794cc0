// The Resources and Relays pages and the live Overview in a real browser
// (Debian's chromium via playwright-core) against a real weft-controller on
// a fresh SQLite database, with a real weft-agent --no-tun:
//  - an admin (user + password made through REST) logs in;
//  - creates a relay in the UI (stored exactly so, checked through REST),
//    an invalid address shows the API's message at the Address field,
//    edits it (address stored canonically) and sees it on the Overview;
//    its health (online nodes that use it as home relay) follows a node
//    going online and offline;
//  - the Resources page shows a DNS resource (made through REST) with its
//    type and mapped addresses; creates a CIDR resource with a tcp filter
//    on 443 and 8000-8100, two connector nodes (one a REST registration,
//    one the real agent, shown online, then offline when it stops, without
//    a page load) and a tag (GET /api/v1/resources has exactly those
//    values); a port 70000 in a udp-only filter shows the API's message at
//    the udp row's ports input, an address with host bits set at Address, a
//    bad tag at Tags, no connector at the Connectors group, and nothing is
//    stored; edits it (one connector node fewer, icmp added); delete asks
//    (Cancel keeps it, confirm removes it);
//  - with the Nodes page visited first, the Overview's online count goes
//    0 -> 1 when an agent starts and back to 0 when it stops, without a
//    page load, and the page holds at most one node watch at any time (the
//    Overview and the Nodes page share one loop) and never gets a 429.
// Screenshots go to ARTIFACT_DIR.
//   node ui_resources.mjs CONTROLLER_BIN AGENT_BIN ARTIFACT_DIR
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bootstrapKey, check, failures, findBrowser, launchBrowser, login, rest as restAt,
  startController, stopProcess, waitFor, watchPage,
} from "./harness.mjs";
import { register, startAgent } from "./nodes.mjs";

const [bin, agentBin, artifacts] = process.argv.slice(2);
findBrowser("ui_resources");
if (!agentBin || !existsSync(agentBin)) {
  console.error(`ui_resources: no agent binary at ${agentBin}`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "weft-uires-"));
mkdirSync(artifacts, { recursive: true });
let browser, agent, ctl, K;
const rest = (...a) => restAt(ctl.base, ...a);
// Without a token check: the API's answer to a request the UI should
// also have made.
// A node client over REST (weft-agent does not report a home relay yet):
// reports home_relay, then keeps a map poll held so the node is online
// until stop() (then offline after --offline-grace).
function holdOnline(credential, homeRelay) {
  const abort = new AbortController();
  const get = (path) => fetch(`${ctl.base}${path}`, { signal: abort.signal,
    headers: { Authorization: `Bearer ${credential}` } }).then((r) => r.json());
  const done = (async () => {
    await fetch(`${ctl.base}/api/v1/endpoints`, { method: "POST",
      headers: { Authorization: `Bearer ${credential}`, "Content-Type": "application/json" },
      body: JSON.stringify({ endpoints: ["192.0.2.7:41641"], home_relay: homeRelay }) });
    let v = (await get("/api/v1/map")).version;
    for (;;) v = (await get(`/api/v1/map?since=${v}`)).version;
  })().catch(() => {});
  return { stop: async () => { abort.abort(); await done; } };
}
const raw = async (method, path, body) => {
  const r = await fetch(`${ctl.base}${path}`, { method, body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${K}`, "Content-Type": "application/json" } });
  return { status: r.status, json: await r.json() };
};

try {
  // Short presence times so online/offline show within seconds.
  ctl = await startController(bin, join(dir, "ctl"),
    ["--offline-grace", "2s", "--presence-interval", "100ms", "--poll-keepalive", "5s"]);
  const base = ctl.base;
  K = await bootstrapKey(ctl);
  const admin = await rest("POST", "/api/v1/users", K, { name: "admin", role: "admin" });
  await rest("PUT", `/api/v1/users/${admin.id}/password`, K, { password: "admin password 1" });
  const authKey = (await rest("POST", "/api/v1/auth-keys", K, { user_id: admin.id, reusable: true })).key;
  const dbHost = (await register(base, authKey, "db-host")).node;
  const buildBox = await register(base, authKey, "build-box");
  // Connector tags must be declared in the policy's tagOwners.
  await rest("PUT", "/api/v1/policy", K, { tagOwners: { "tag:office": [], "tag:site-gw": [] } });
  await rest("POST", "/api/v1/resources", K, { name: "nas", address: "nas.lan",
    filters: [{ protocol: "tcp", ports: ["445"] }], connectors: { tags: ["tag:office"] } });

  browser = await launchBrowser("ui_resources");
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await ctx.newPage();
  const pageErrors = await watchPage(page);
  const unsafe = [];
  let watchStarts = 0, held = 0, maxHeld = 0, tooMany = 0, loads = 0;
  const isWatch = (r) => r.url().includes("/api/v1/nodes/watch?since=");
  page.on("request", (r) => {
    if (!["GET", "HEAD"].includes(r.method()) && r.url().startsWith(base) && r.headers()["x-weft-request"] !== "1")
      unsafe.push(`${r.method()} ${r.url()}`);
    if (r.url().includes("/api/v1/nodes/watch?wait=0")) watchStarts++;
    if (isWatch(r)) maxHeld = Math.max(maxHeld, ++held);
  });
  const watchDone = (r) => { if (isWatch(r)) held--; };
  page.on("requestfinished", watchDone);
  page.on("requestfailed", watchDone);
  page.on("response", (r) => { if (r.status() === 429) tooMany++; });
  page.on("load", () => { loads++; });
  // A screenshot at width x height (full page), then back to 1100 x 800.
  const shot = async (name, width = 1100, height = 360) => {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(artifacts, name), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 800 });
  };
  const nav = (name) => page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name, exact: true }).click();

  await login(page, base, "admin", "admin password 1");
  await page.getByTestId("nodes-online").waitFor({ timeout: 10000 });
  check(true, "the admin logs in with the password and sees the Overview");

  // --- Relays: create, a refused address, edit; each checked in the API.
  await nav("Relays");
  await page.getByRole("heading", { name: "Relays" }).waitFor();
  check(new URL(page.url()).pathname === "/relays", "the Relays link routes to /relays");
  await page.getByText("No relays yet").waitFor({ timeout: 10000 });
  await page.getByRole("button", { name: "New relay" }).click();
  const relayForm = page.locator("#relay-form");
  await relayForm.getByLabel("Name").fill("eu-1");
  await relayForm.getByLabel("Region").fill("eu-west");
  await relayForm.getByLabel("Address").fill("relay.example.com");
  await relayForm.getByLabel("Key pin").fill("3q2+7wEabc=");
  await relayForm.getByRole("button", { name: "Save" }).click();
  const want = await raw("POST", "/api/v1/relays", { name: "eu-1x", region: "eu-west", address: "relay.example.com" });
  const relayErr = page.locator("#relay-address-err");
  await relayErr.waitFor({ timeout: 10000 });
  check(want.status === 400 && want.json.error.field === "address" &&
        (await relayErr.textContent()) === want.json.error.message,
  `a relay address without a port shows the API's message at Address ("${await relayErr.textContent()}")`);
  check((await rest("GET", "/api/v1/relays", K)).items.length === 0, "the refused relay is not stored");
  await relayForm.getByLabel("Address").fill("relay.example.com:3478");
  await relayForm.getByRole("button", { name: "Save" }).click();
  await page.locator('tr[data-relay="eu-1"]').waitFor({ timeout: 10000 });
  check(!(await relayForm.isVisible()), "a saved relay closes the form");
  let relays = (await rest("GET", "/api/v1/relays", K)).items;
  check(relays.length === 1 && relays[0].name === "eu-1" && relays[0].region === "eu-west" &&
        relays[0].address === "relay.example.com:3478" && relays[0].public_key_pin === "3q2+7wEabc=",
  `the relay is stored with the form's values (${JSON.stringify(relays)})`);
  await page.locator('tr[data-relay="eu-1"]').getByText("no online nodes").waitFor({ timeout: 10000 });
  check(true, "the relay's health comes from /api/v1/status (no online nodes)");

  await page.getByRole("button", { name: "Edit eu-1" }).click();
  check(await relayForm.getByLabel("Name").isDisabled(), "a relay's name cannot be edited");
  check(await relayForm.getByLabel("Key pin").inputValue() === "3q2+7wEabc=", "the edit form holds the stored pin");
  await relayForm.getByLabel("Region").fill("eu-central");
  await relayForm.getByLabel("Address").fill("[2001:DB8::5]:3478");
  await relayForm.getByRole("button", { name: "Save" }).click();
  await page.locator('tr[data-relay="eu-1"]').getByText("eu-central").waitFor({ timeout: 10000 });
  relays = (await rest("GET", "/api/v1/relays", K)).items;
  check(relays.length === 1 && relays[0].region === "eu-central" && relays[0].address === "[2001:db8::5]:3478" &&
        relays[0].public_key_pin === "3q2+7wEabc=",
  `the edit is stored, the address canonical, the pin kept (${JSON.stringify(relays)})`);
  check((await page.locator('tr[data-relay="eu-1"]').textContent()).includes("[2001:db8::5]:3478"),
    "the table shows the stored (canonical) address");
  // Health: a node that reports eu-1 as its home relay and goes online,
  // then offline; the Relays page follows without a reload.
  const poller = holdOnline(buildBox.credential, "eu-1");
  const health = page.locator('tr[data-relay="eu-1"]').getByTestId("health");
  await waitFor("eu-1 in use", async () => (await health.textContent()) === "in use by 1 online node", 20000);
  check(true, "the relay's health shows the online node that uses it, live");
  await shot("relays.png");
  await poller.stop();
  await waitFor("eu-1 unused", async () => (await health.textContent()) === "no online nodes", 30000);
  check(true, "and goes back to no online nodes when the node goes offline");

  await nav("Overview");
  const ovRelay = page.locator('tr[data-relay="eu-1"]');
  await ovRelay.waitFor({ timeout: 10000 });
  check((await ovRelay.textContent()).includes("eu-central"), "the Overview lists the edited relay");

  // --- Resources: a DNS resource's mapped addresses; create a CIDR
  // resource with a tcp filter, two connector nodes (one online through the
  // real agent) and a tag; refused ports, address, tag and connector set;
  // edit; delete.
  await nav("Resources");
  await page.getByRole("heading", { name: "Resources" }).waitFor();
  const nasRow = page.locator('tr[data-resource="nas"]');
  await nasRow.waitFor({ timeout: 10000 });
  const nasApi = (await rest("GET", "/api/v1/resources", K)).items.find((r) => r.name === "nas");
  const nasMapped = await nasRow.getByTestId("mapped").textContent();
  check(nasApi.type === "dns" && nasApi.mapped && nasApi.mapped.ipv4 && nasApi.mapped.ipv6 &&
        nasMapped === `${nasApi.mapped.ipv4}${nasApi.mapped.ipv6}`,
  `a DNS resource shows its mapped addresses (${nasMapped}; API ${JSON.stringify(nasApi.mapped)})`);
  check((await nasRow.getByTestId("connectors").textContent()).includes("tag:office") &&
        (await nasRow.getByTestId("filters").textContent()) === "tcp 445" &&
        (await nasRow.locator("td").nth(2).textContent()) === "dns",
  "a resource made through REST is listed with its type, filters and connector tag");

  // One connector is a real agent, online while it runs.
  agent = startAgent(agentBin, base, dir, "agent-node", authKey);
  let agentNode;
  await waitFor("the agent's node", async () => {
    agentNode = (await rest("GET", "/api/v1/nodes", K)).items.find((n) => n.name === "agent-node");
    return agentNode && agentNode.online;
  }, 30000);

  await page.getByRole("button", { name: "New resource" }).click();
  const form = page.locator("#res-form");
  await form.getByLabel("Name").fill("wiki");
  await form.getByLabel("Address").fill("10.1.0.0/16");
  check(await form.getByLabel("tcp ports").isDisabled(), "a protocol's ports are disabled until it is checked");
  await form.getByLabel("tcp", { exact: true }).check();
  await form.getByLabel("tcp ports").fill("443, 8000-8100");
  const nodeBoxes = await form.locator("#res-nodes label").allTextContents();
  check(["agent-node", "build-box", "db-host"].every((n) => nodeBoxes.some((o) => o.startsWith(n))),
    `the connector nodes are picked from the node list (${nodeBoxes.join(" | ")})`);
  await waitFor("agent-node online in the form", async () =>
    (await form.getByLabel("agent-node").locator("..").textContent()).includes("online"), 10000);
  await form.getByLabel("db-host").check();
  await form.getByLabel("agent-node").check();
  await form.getByLabel("Tags").fill("tag:site-gw");
  await form.getByRole("button", { name: "Save" }).click();
  const wikiRow = page.locator('tr[data-resource="wiki"]');
  await wikiRow.waitFor({ timeout: 10000 });
  let stored = (await rest("GET", "/api/v1/resources", K)).items.find((r) => r.name === "wiki");
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  check(stored && stored.address === "10.1.0.0/16" && stored.type === "cidr" && stored.mapped === null &&
        same(stored.filters, [{ protocol: "tcp", ports: ["443", "8000-8100"] }]) &&
        same(stored.connectors, { nodes: [dbHost.id, agentNode.id].sort((a, b) => a - b), tags: ["tag:site-gw"] }),
  `the resource is stored with exactly the form's values (${JSON.stringify(stored)})`);
  check((await wikiRow.getByTestId("filters").textContent()) === "tcp 443, 8000-8100",
    "the table shows the filters");
  const conn = (name) => wikiRow.locator(`li[data-connector="${name}"]`);
  await waitFor("agent-node online in the table", async () => (await conn("agent-node").textContent()) === "agent-node online", 10000);
  check((await conn("db-host").textContent()) === "db-host offline" && (await conn("tag:site-gw").isVisible()),
    "the table names the connector nodes with their online state, and the tag");
  await shot("resources.png");
  // The connector's state is live: it goes offline when the agent stops.
  const loadsAgent = loads;
  await stopProcess(agent);
  await waitFor("agent-node offline in the table", async () => (await conn("agent-node").textContent()) === "agent-node offline", 30000);
  check(loads === loadsAgent, "a connector node's state follows its agent stopping, without a page load");

  // A port out of range in the only filter, udp: the API names
  // filters[0].ports[1], shown at the udp row's ports input (the first
  // row sent, not the first row of the form), nothing stored.
  await page.getByRole("button", { name: "New resource" }).click();
  await form.getByLabel("Name").fill("bad");
  await form.getByLabel("Address").fill("10.2.0.0/16");
  await form.getByLabel("udp", { exact: true }).check();
  await form.getByLabel("udp ports").fill("53, 70000");
  await form.getByLabel("db-host").check();
  await form.getByRole("button", { name: "Save" }).click();
  const portErr = page.locator("#res-udp-ports-err");
  await portErr.waitFor({ timeout: 10000 });
  const badBody = (over) => ({ name: "bad", address: "10.2.0.0/16",
    filters: [{ protocol: "udp", ports: ["53", "70000"] }],
    connectors: { nodes: [dbHost.id], tags: [] }, ...over });
  const apiPort = await raw("POST", "/api/v1/resources", badBody({}));
  check(apiPort.status === 400 && apiPort.json.error.field === "filters[0].ports[1]" &&
        (await portErr.textContent()) === apiPort.json.error.message,
  `a bad port range shows the API's message at that row's ports input ("${await portErr.textContent()}", field ${apiPort.json.error.field})`);
  check(await form.getByLabel("udp ports").getAttribute("aria-invalid") === "true" &&
        await form.getByLabel("tcp ports").getAttribute("aria-invalid") === null &&
        await form.getByLabel("tcp ports").isDisabled(),
  "only the udp ports input is marked invalid");
  check((await page.locator(".error").count()) === 1, "the message is shown once, at its field");
  await shot("resources-error.png", 360, 740);
  // An address with host bits set: the API's message at Address.
  await form.getByLabel("udp ports").fill("53");
  await form.getByLabel("Address").fill("10.2.0.1/16");
  await form.getByRole("button", { name: "Save" }).click();
  const addrErr = page.locator("#res-address-err");
  await addrErr.waitFor({ timeout: 10000 });
  const apiAddr = await raw("POST", "/api/v1/resources", badBody({ address: "10.2.0.1/16",
    filters: [{ protocol: "udp", ports: ["53"] }] }));
  const shown = await addrErr.textContent();
  check(apiAddr.status === 400 && apiAddr.json.error.field === "address" && shown === apiAddr.json.error.message,
    `an invalid address shows the API's message next to Address ("${shown}")`);
  check(await form.getByLabel("Address").getAttribute("aria-invalid") === "true" &&
        !(await portErr.isVisible()), "the Address input is marked invalid, the ports error is gone");
  // A tag that is no tag: the API's message at the Tags input; no
  // connector at all: at the Connectors group.
  await form.getByLabel("Address").fill("10.2.0.0/16");
  await form.getByLabel("Tags").fill("tag:site-gw, office");
  await form.getByRole("button", { name: "Save" }).click();
  const tagErr = page.locator("#res-tags-err");
  await tagErr.waitFor({ timeout: 10000 });
  const apiTag = await raw("POST", "/api/v1/resources", badBody({ filters: [],
    connectors: { nodes: [dbHost.id], tags: ["tag:site-gw", "office"] } }));
  check(apiTag.json.error.field === "connectors.tags[1]" && (await tagErr.textContent()) === apiTag.json.error.message,
    `a bad connector tag shows the API's message at the Tags input ("${await tagErr.textContent()}")`);
  await form.getByLabel("Tags").fill("");
  await form.getByLabel("db-host").uncheck();
  await form.getByRole("button", { name: "Save" }).click();
  const connErr = page.locator("#res-connectors-err");
  await connErr.waitFor({ timeout: 10000 });
  const apiConn = await raw("POST", "/api/v1/resources", badBody({ filters: [], connectors: { nodes: [], tags: [] } }));
  check(apiConn.json.error.field === "connectors" && (await connErr.textContent()) === apiConn.json.error.message,
    `no connector shows the API's message at the Connectors group ("${await connErr.textContent()}")`);
  await form.getByRole("button", { name: "Cancel" }).click();
  check(!(await form.isVisible()), "Cancel closes the form");
  const names = (await rest("GET", "/api/v1/resources", K)).items.map((r) => r.name).sort();
  check(names.join(",") === "nas,wiki", `nothing was stored for the refused forms (${names})`);

  // Edit: remove one connector node, add icmp.
  await page.getByRole("button", { name: "Edit wiki" }).click();
  check(await form.getByLabel("Address").inputValue() === "10.1.0.0/16" &&
        await form.getByLabel("tcp", { exact: true }).isChecked() &&
        await form.getByLabel("tcp ports").inputValue() === "443, 8000-8100" &&
        !(await form.getByLabel("icmp", { exact: true }).isChecked()) &&
        await form.getByLabel("db-host").isChecked() && await form.getByLabel("agent-node").isChecked() &&
        !(await form.getByLabel("build-box").isChecked()) && await form.getByLabel("Tags").inputValue() === "tag:site-gw",
  "the edit form holds the stored address, filters and connectors");
  await form.getByLabel("agent-node").uncheck();
  await form.getByLabel("icmp", { exact: true }).check();
  await form.getByRole("button", { name: "Save" }).click();
  await waitFor("the edited filters", async () =>
    (await wikiRow.getByTestId("filters").textContent()) === "tcp 443, 8000-8100 · icmp", 10000);
  stored = await rest("GET", `/api/v1/resources/${stored.id}`, K);
  check(same(stored.filters, [{ protocol: "tcp", ports: ["443", "8000-8100"] }, { protocol: "icmp", ports: [] }]) &&
        same(stored.connectors, { nodes: [dbHost.id], tags: ["tag:site-gw"] }) && stored.address === "10.1.0.0/16",
  `the edit is stored: one connector node fewer, icmp added (${JSON.stringify(stored)})`);
  check(!(await conn("agent-node").isVisible()) && (await conn("db-host").isVisible()),
    "the table no longer lists the removed connector node");
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: join(artifacts, "resources-360.png"), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  check(overflow <= 0, `the Resources page fits 360 px (the table scrolls inside; ${overflow} px over)`);
  await page.setViewportSize({ width: 1100, height: 800 });

  // Delete asks; Cancel keeps the resource, Delete removes it.
  await page.getByRole("button", { name: "Delete wiki" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  check((await dialog.textContent()).includes("Delete the resource wiki"), "delete asks for confirmation");
  await shot("resources-confirm.png", 1100, 500);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  check(await wikiRow.isVisible(), "Cancel keeps the resource in the table");
  check((await rest("GET", "/api/v1/resources", K)).items.some((r) => r.name === "wiki"), "Cancel keeps the resource in the API");
  await page.getByRole("button", { name: "Delete wiki" }).click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await wikiRow.waitFor({ state: "detached", timeout: 10000 });
  check(!(await rest("GET", "/api/v1/resources", K)).items.some((r) => r.name === "wiki"),
    "a confirmed delete removes the resource");

  // --- The live Overview, sharing the Nodes page's watch loop.
  const loadsBefore = loads;
  const startsBefore = watchStarts;
  await nav("Nodes");
  await page.locator('tr[data-node="db-host"]').waitFor({ timeout: 10000 });
  await nav("Overview");
  const online = page.getByTestId("nodes-online");
  const count = () => online.textContent({ timeout: 1000 }).catch(() => null);
  await waitFor("the Overview's counts", async () => (await count()) === "0", 10000);
  check(true, "the Overview shows 0 online");
  if (agentBin && existsSync(agentBin)) {
    // The agent of the Resources part again: the same node.
    agent = startAgent(agentBin, base, dir, "agent-node", authKey);
    await waitFor("1 online on the Overview", async () => (await count()) === "1", 30000);
    check(true, "the Overview's online count goes to 1 when the agent starts, without a reload");
    check((await page.getByTestId("nodes-offline").textContent()) === "2", "the offline count stays 2");
    await shot("overview.png", 360, 740);
    await stopProcess(agent);
    await waitFor("0 online on the Overview", async () => (await count()) === "0", 30000);
    check((await page.getByTestId("nodes-offline").textContent()) === "3", "the stopped agent's node counts as offline");
    check(true, "the online count goes back to 0 when the agent stops, without a reload");
  } else {
    check(false, `no agent binary at ${agentBin}`);
  }
  check(loads === loadsBefore, `no page load while the counts changed (${loads - loadsBefore})`);
  check(watchStarts === startsBefore && watchStarts === 1,
    `one watch loop for the page load, shared by Overview, Nodes, Resources and Relays (${watchStarts} starts)`);
  check(maxHeld === 1, `at most one node watch held at a time (${maxHeld})`);
  check(tooMany === 0, `no 429 answers (${tooMany})`);
  check(unsafe.length === 0, `every state-changing request sent X-Weft-Request (${unsafe.join(" | ")})`);
  const csp = await page.evaluate(() => window.__cspViolations);
  check(csp.length === 0, `no CSP violation (${csp.join(" | ")})`);
  check(pageErrors.length === 0, `no console errors (${pageErrors.join(" | ")})`);
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
  if (ctl) console.error(`controller log:\n${ctl.log}`);
  if (agent) console.error(`agent log:\n${agent.log}`);
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log(`screenshots in ${artifacts}`);
