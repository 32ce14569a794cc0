// Nodes: every node the caller may see (members: their own, by the API's
// rule), searchable, filterable by state and sortable, kept live without
// reloading: the shared watch loop (web/lib/live.js) reads the list again
// whenever the controller says the nodes changed. Rename, set tags, approve
// routes, expire and delete go through the REST API; the destructive ones
// (and route approval, which opens access) ask first.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, listAll, relTime } from "@weft/api.js";
import { confirmAction, promptValue } from "@weft/ui.js";
import { NODES, useLive } from "@weft/lib/live.js";

const COLUMNS = [
  ["name", "Name"], ["online", "State"], ["ipv4", "Mesh IPs"], ["tags", "Tags"],
  ["endpoints", "Endpoints"], ["routes", "Routes"], ["last_seen", "Last seen"],
  ["expires_at", "Expiry"],
];

// Advertised routes not approved yet.
const pendingRoutes = (n) => n.routes.advertised.filter((p) => !n.routes.approved.includes(p));

// Re-renders every 15 s so "last seen" stays true between changes.
function useClock() {
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 15000);
    return () => clearInterval(t);
  }, []);
}

function sortValue(n, key) {
  const v = key === "routes" ? n.routes.advertised : n[key];
  if (Array.isArray(v)) return v.join(",");
  if (typeof v === "boolean") return v ? 1 : 0;
  if (key === "ipv4" && v) return v.split(".").map((x) => x.padStart(3, "0")).join(".");
  return v == null ? "" : String(v).toLowerCase();
}

export function Nodes({ session }) {
  const { data: nodes, err, live, reload } = useLive(NODES, session.actor);
  const [q, setQ] = useState("");
  const [state, setState] = useState("all");
  const [sort, setSort] = useState(["name", 1]);
  const [actionErr, setActionErr] = useState("");
  useClock();
  const admin = session.role === "admin";

  const act = async (fn) => {
    setActionErr("");
    try {
      await fn();
      await reload();
    } catch (e) {
      setActionErr(e.message);
    }
  };
  const rename = (n) => act(async () => {
    const name = await promptValue(`Rename ${n.name}`, "New name", n.name);
    if (name !== null && name !== n.name) await api("PATCH", `/api/v1/nodes/${n.id}`, { name });
  });
  const retag = (n) => act(async () => {
    const text = await promptValue(`Tags of ${n.name} (comma separated, e.g. tag:web)`, "Tags", n.tags.join(", "));
    if (text === null) return;
    const tags = text.split(",").map((t) => t.trim()).filter(Boolean);
    await api("PATCH", `/api/v1/nodes/${n.id}`, { tags });
  });
  const approve = (n) => act(async () => {
    const pending = pendingRoutes(n);
    if (!(await confirmAction(`Approve ${pending.join(", ")} for ${n.name}? Peers the policy allows can then reach these networks through it.`, "Approve")))
      return;
    const routes = (await listAll(`/api/v1/routes?node_id=${n.id}`)).filter((r) => pending.includes(r.prefix));
    for (const r of routes) await api("PATCH", `/api/v1/routes/${r.id}`, { approved: true });
  });
  const expire = (n) => act(async () => {
    if (await confirmAction(`Expire ${n.name}? It loses its access until it registers again.`, "Expire"))
      await api("POST", `/api/v1/nodes/${n.id}/expire`);
  });
  const remove = (n) => act(async () => {
    if (await confirmAction(`Delete ${n.name}? This cannot be undone.`, "Delete"))
      await api("DELETE", `/api/v1/nodes/${n.id}`);
  });

  const needle = q.trim().toLowerCase();
  const shown = (nodes || [])
    .filter((n) => state === "all" || (state === "online") === n.online)
    .filter((n) => !needle || [n.name, n.ipv4, n.ipv6, ...n.tags, ...n.endpoints, n.os]
      .some((s) => s && s.toLowerCase().includes(needle)))
    .sort((a, b) => {
      const x = sortValue(a, sort[0]), y = sortValue(b, sort[0]);
      return (x < y ? -1 : x > y ? 1 : 0) * sort[1];
    });
  const header = ([key, title]) => html`
    <th scope="col" aria-sort=${sort[0] === key ? (sort[1] > 0 ? "ascending" : "descending") : "none"}>
      <button type="button" class="link" onClick=${() => setSort([key, sort[0] === key ? -sort[1] : 1])}>
        ${title}${sort[0] === key ? (sort[1] > 0 ? " ▲" : " ▼") : ""}</button></th>`;

  return html`
    <section aria-labelledby="nodes-title">
      <div class="row">
        <h2 id="nodes-title">Nodes</h2>
        <span class=${live ? "badge on" : "badge"} role="status">${live ? "live" : "connecting…"}</span>
      </div>
      <div class="filters">
        <label for="nodes-q">Search</label>
        <input id="nodes-q" type="search" value=${q} placeholder="name, IP, tag, endpoint"
               onInput=${(e) => setQ(e.currentTarget.value)} />
        <label for="nodes-state">State</label>
        <select id="nodes-state" value=${state} onChange=${(e) => setState(e.currentTarget.value)}>
          <option value="all">all</option><option value="online">online</option>
          <option value="offline">offline</option>
        </select>
      </div>
      ${err && html`<p class="error" role="alert">${err}</p>`}
      ${actionErr && html`<p class="error" role="alert">${actionErr}</p>`}
      ${nodes && html`<p class="muted">${shown.length} of ${nodes.length} nodes</p>`}
      <div class="scroll">
        <table aria-labelledby="nodes-title">
          <thead><tr>${COLUMNS.map(header)}${admin && html`<th scope="col">Actions</th>`}</tr></thead>
          <tbody>
            ${shown.map((n) => html`
              <tr key=${n.id} data-node=${n.name}>
                <td>${n.name}<div class="muted">${n.os} ${n.version}</div></td>
                <td><span class=${n.online ? "badge on" : "badge"} data-testid="state">${n.online ? "online" : "offline"}</span></td>
                <td>${n.ipv4}${n.ipv6 && html`<div class="muted">${n.ipv6}</div>`}</td>
                <td>${n.tags.join(", ")}</td>
                <td>${n.endpoints.join(", ")}${n.home_relay && html`<div class="muted">relay ${n.home_relay}</div>`}</td>
                <td>${n.routes.advertised.map((p) => html`<div>${p} <span class="muted">${n.routes.approved.includes(p) ? "approved" : "pending"}</span></div>`)}</td>
                <td title=${n.last_seen || ""}>${relTime(n.last_seen)}</td>
                <td title=${n.expires_at || ""}>${n.expires_at ? relTime(n.expires_at) : "never"}</td>
                ${admin && html`<td class="actions">
                  <button type="button" class="secondary" aria-label=${`Rename ${n.name}`} onClick=${() => rename(n)}>Rename</button>
                  <button type="button" class="secondary" aria-label=${`Set tags of ${n.name}`} onClick=${() => retag(n)}>Tags</button>
                  ${pendingRoutes(n).length > 0 && html`<button type="button" class="secondary" aria-label=${`Approve routes of ${n.name}`} onClick=${() => approve(n)}>Approve routes</button>`}
                  <button type="button" class="secondary" aria-label=${`Expire ${n.name}`} onClick=${() => expire(n)}>Expire</button>
                  <button type="button" class="danger" aria-label=${`Delete ${n.name}`} onClick=${() => remove(n)}>Delete</button>
                </td>`}
              </tr>`)}
          </tbody>
        </table>
      </div>
      ${nodes && nodes.length === 0 && html`<p>No nodes yet. Create an auth key and run <code>weft-agent up</code> on a machine.</p>`}
    </section>`;
}
