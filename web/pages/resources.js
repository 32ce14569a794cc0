// Resources (admins, as the API allows): the hosts, subnets, DNS names and
// the internet (an exit node) that connector nodes bring into the mesh
// (docs/connectors.md). Lists GET /api/v1/resources with every field:
// address and its type, filters, the connector set (nodes with their live
// online state from the shared watch loop, and tags) and the mapped
// addresses of DNS and wildcard resources. Create, edit (POST / PATCH
// /api/v1/resources) and delete (after a confirmation). Validation is the
// API's: its message is shown at the control its `field` path names.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { relTime } from "@weft/api.js";
import { NODES, useLive } from "@weft/lib/live.js";
import { EditForm, Field, FormError, Group, renameField, useRows } from "@weft/lib/form.js";

const PROTOCOLS = ["tcp", "udp", "icmp"];

// The form's names for what the API's error paths name.
const FIELDS = ["name", "address", "filters", "filters.tcp.ports", "filters.udp.ports",
  "connectors", "connectors.nodes", "connectors.tags"];

// "tcp 443, 8000-8100 · icmp", or "everything" for no filters.
export function filtersText(filters) {
  if (!filters || filters.length === 0) return "everything";
  return filters.map((f) => {
    if (f.protocol === "icmp") return "icmp";
    return f.ports && f.ports.length ? `${f.protocol} ${f.ports.join(", ")}` : `${f.protocol} all ports`;
  }).join(" · ");
}

// "443, 8000-8100" -> ["443", "8000-8100"]; the API judges each entry.
const splitList = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);

const online = (n) => html`<span class=${n.online ? "badge on" : "badge"}>${n.online ? "online" : "offline"}</span>`;

function Connectors({ c, nodes }) {
  const ids = (c && c.nodes) || [];
  const tags = (c && c.tags) || [];
  if (!ids.length && !tags.length) return html`<span class="muted">none (its nodes were deleted)</span>`;
  return html`<ul class="plain">
    ${ids.map((id) => {
      const n = (nodes || []).find((x) => x.id === id);
      return html`<li key=${`n${id}`} data-connector=${n ? n.name : `#${id}`}>${n ? html`${n.name} ${online(n)}` : `node #${id}`}</li>`;
    })}
    ${tags.map((t) => html`<li key=${t} data-connector=${t}><code>${t}</code></li>`)}
  </ul>`;
}

function Mapped({ m }) {
  if (!m) return html`<span class="muted">none</span>`;
  return html`<ul class="plain"><li><code>${m.ipv4}</code></li>${m.ipv6 && html`<li><code>${m.ipv6}</code></li>`}</ul>`;
}

function ResourceForm({ row, nodes, err, onSave, onCancel }) {
  const conn = row.connectors || { nodes: [], tags: [] };
  const [v, setV] = useState(() => ({
    name: row.name || "", address: row.address || "",
    filters: Object.fromEntries(PROTOCOLS.map((p) => {
      const f = (row.filters || []).find((x) => x.protocol === p);
      return [p, { on: !!f, ports: f && f.ports ? f.ports.join(", ") : "" }];
    })),
    nodes: [...conn.nodes], tags: conn.tags.join(", "),
  }));
  // The protocols in the order the last save sent them: the API names a
  // filter by its index.
  const [sent, setSent] = useState([]);
  const set = (k) => (e) => setV({ ...v, [k]: e.currentTarget.value });
  const setFilter = (p, change) => setV({ ...v, filters: { ...v.filters, [p]: { ...v.filters[p], ...change } } });
  const toggleNode = (id) => (e) => setV({ ...v,
    nodes: e.currentTarget.checked ? [...v.nodes.filter((x) => x !== id), id] : v.nodes.filter((x) => x !== id) });
  const shown = renameField(err, (field) => {
    let m = /^filters\[(\d+)\]\.ports/.exec(field);
    if (m) return sent[m[1]] && sent[m[1]] !== "icmp" ? `filters.${sent[m[1]]}.ports` : "filters";
    if (/^filters\[/.test(field)) return "filters";
    m = /^connectors\.(nodes|tags)(\[\d+\])?$/.exec(field);
    return m ? `connectors.${m[1]}` : field;
  });
  const submit = () => {
    const protos = PROTOCOLS.filter((p) => v.filters[p].on);
    const filters = protos.map((p) => (p === "icmp" ? { protocol: p } : { protocol: p, ports: splitList(v.filters[p].ports) }));
    setSent(protos);
    onSave({ name: v.name, address: v.address, filters, connectors: { nodes: v.nodes, tags: splitList(v.tags) } });
  };
  const sorted = [...(nodes || [])].sort((a, b) => a.name.localeCompare(b.name));
  // Stored connector nodes the list does not know (yet) stay choosable.
  const unknown = v.nodes.filter((id) => !sorted.some((n) => n.id === id));
  const nodeBox = (id, label) => html`
    <div class="checks" key=${id}>
      <input type="checkbox" id=${`res-node-${id}`} checked=${v.nodes.includes(id)} onChange=${toggleNode(id)} />
      <label for=${`res-node-${id}`}>${label}</label>
    </div>`;
  return html`
    <${EditForm} id="res-form" title=${row.id ? `Edit resource ${row.name}` : "New resource"}
                 onSubmit=${submit} onCancel=${onCancel}>
      <${FormError} err=${shown} fields=${FIELDS} />
      <${Field} id="res-name" label="Name" field="name" err=${shown} value=${v.name}
                onInput=${set("name")} autocomplete="off" hint="a-z 0-9 . _ -, e.g. wiki" />
      <${Field} id="res-address" label="Address" field="address" err=${shown} value=${v.address}
                onInput=${set("address")} autocomplete="off" spellcheck="false"
                hint="an IP (10.0.0.5), a CIDR prefix (10.1.0.0/16), a DNS name (db.corp.example), a wildcard (*.corp.example) or internet (exit node)" />
      <${Group} id="res-filters" legend="Filters" field="filters" err=${shown}
                hint="What the resource admits. No protocol checked: everything. Empty ports: all ports.">
        ${PROTOCOLS.map((p) => html`
          <div class="proto" key=${p} data-protocol=${p}>
            <div class="checks">
              <input type="checkbox" id=${`res-${p}`} checked=${v.filters[p].on}
                     onChange=${(e) => setFilter(p, { on: e.currentTarget.checked })} />
              <label for=${`res-${p}`}>${p}</label>
            </div>
            ${p === "icmp" ? html`<p class="muted">icmp has no ports</p>` : html`
              <${Field} id=${`res-${p}-ports`} label=${`${p} ports`} field=${`filters.${p}.ports`} err=${shown}
                        value=${v.filters[p].ports} disabled=${!v.filters[p].on} autocomplete="off"
                        placeholder="443, 8000-8100" onInput=${(e) => setFilter(p, { ports: e.currentTarget.value })} />`}
          </div>`)}
      <//>
      <${Group} id="res-connectors" legend="Connectors" field="connectors" err=${shown}
                hint="The nodes that serve the resource: several for high availability.">
        <${Group} id="res-nodes" legend="Nodes" field="connectors.nodes" err=${shown}>
          ${!nodes && html`<p class="muted">loading nodes…</p>`}
          ${nodes && sorted.length === 0 && unknown.length === 0 && html`<p class="muted">no nodes yet: use a tag</p>`}
          ${sorted.map((n) => nodeBox(n.id, html`${n.name}${n.ipv4 ? ` (${n.ipv4})` : ""} ${online(n)}`))}
          ${unknown.map((id) => nodeBox(id, `node #${id}`))}
        <//>
        <${Field} id="res-tags" label="Tags" field="connectors.tags" err=${shown} value=${v.tags}
                  onInput=${set("tags")} autocomplete="off" spellcheck="false" placeholder="tag:site-a, tag:site-b"
                  hint="every node with one of these tags serves it; comma-separated, declared in the policy's tagOwners" />
      <//>
    <//>`;
}

export function ResourcesPage({ session }) {
  const { data: nodes } = useLive(NODES, session.actor);
  const { rows, editing, err, edit, save, remove, cancel } = useRows("/api/v1/resources");
  return html`
    <section aria-labelledby="res-title">
      <div class="row">
        <h2 id="res-title">Resources</h2>
        <button type="button" onClick=${() => edit({})}>New resource</button>
      </div>
      <p class="muted">Hosts, subnets, DNS names and the internet that connector nodes bring into the mesh; the policy decides who reaches them.</p>
      ${editing ? html`<${ResourceForm} key=${editing.id || "new"} row=${editing} nodes=${nodes}
                                         err=${err} onSave=${save} onCancel=${cancel} />`
                : html`<${FormError} err=${err} />`}
      ${rows && rows.length > 0 && html`
        <div class="scroll"><table aria-labelledby="res-title">
          <thead><tr><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Type</th>
            <th scope="col">Filters</th><th scope="col">Connectors</th><th scope="col">Mapped</th>
            <th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
          <tbody>${rows.map((r) => html`
            <tr key=${r.id} data-resource=${r.name}>
              <td>${r.name}</td><td><code>${r.address}</code></td><td>${r.type}</td>
              <td data-testid="filters">${filtersText(r.filters)}</td>
              <td data-testid="connectors"><${Connectors} c=${r.connectors} nodes=${nodes} /></td>
              <td data-testid="mapped"><${Mapped} m=${r.mapped} /></td>
              <td title=${r.created_at}>${relTime(r.created_at)}</td>
              <td class="actions">
                <button type="button" class="secondary" aria-label=${`Edit ${r.name}`} onClick=${() => edit(r)}>Edit</button>
                <button type="button" class="danger" aria-label=${`Delete ${r.name}`}
                        onClick=${() => remove(r, `Delete the resource ${r.name} (${r.address})? Nodes lose their way to it.`)}>Delete</button>
              </td>
            </tr>`)}
          </tbody></table></div>`}
      ${rows && rows.length === 0 && html`<p>No resources yet.</p>`}
    </section>`;
}
