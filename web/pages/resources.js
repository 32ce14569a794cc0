// Resources (admins, as the API allows): the private hosts, subnets and
// services that a connector node, or every node with a connector tag,
// exposes to the mesh. Lists GET /api/v1/resources with every field;
// create, edit (POST / PATCH /api/v1/resources) and delete (after a
// confirmation). The connector is picked from the node list (the shared
// live view, so a node that registers meanwhile is offered) or typed as a
// tag. Validation is the API's: its message is shown at the field it names.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { relTime } from "@weft/api.js";
import { NODES, useLive } from "@weft/lib/live.js";
import { EditForm, Field, FormError, useRows } from "@weft/lib/form.js";

const FIELDS = ["name", "address", "protocol", "ports", "connector_node_id", "connector_tag"];

function Connector({ r, nodes }) {
  if (r.connector_tag) return html`<code>${r.connector_tag}</code>`;
  if (r.connector_node_id) {
    const n = (nodes || []).find((x) => x.id === r.connector_node_id);
    return html`<span>${n ? n.name : `node #${r.connector_node_id}`}${n && html` <span
      class=${n.online ? "badge on" : "badge"}>${n.online ? "online" : "offline"}</span>`}</span>`;
  }
  return html`<span class="muted">none (its node was deleted)</span>`;
}

function ResourceForm({ row, nodes, err, onSave, onCancel }) {
  const [v, setV] = useState({
    name: row.name || "", address: row.address || "", protocol: row.protocol || "any",
    ports: row.ports || "*", tag: row.connector_tag || "",
    node: row.connector_node_id ? String(row.connector_node_id) : "",
    via: row.connector_tag || (nodes && nodes.length === 0) ? "tag" : "node",
  });
  const set = (k) => (e) => setV({ ...v, [k]: e.currentTarget.value });
  const sorted = [...(nodes || [])].sort((a, b) => a.name.localeCompare(b.name));
  // A node is always chosen in node mode (the first one unless picked),
  // so an edit cannot silently keep the old connector.
  const node = v.node || (sorted[0] ? String(sorted[0].id) : "");
  const known = sorted.some((n) => String(n.id) === node);
  const submit = () => {
    const body = { name: v.name, address: v.address, protocol: v.protocol, ports: v.ports };
    if (v.via === "tag") body.connector_tag = v.tag;
    else if (node) body.connector_node_id = Number(node);
    onSave(body);
  };
  return html`
    <${EditForm} id="res-form" title=${row.id ? `Edit resource ${row.name}` : "New resource"}
                 onSubmit=${submit} onCancel=${onCancel}>
      <${FormError} err=${err} fields=${FIELDS} />
      <${Field} id="res-name" label="Name" field="name" err=${err} value=${v.name}
                onInput=${set("name")} autocomplete="off" hint="a-z 0-9 . _ -, e.g. wiki" />
      <${Field} id="res-address" label="Address" field="address" err=${err} value=${v.address}
                onInput=${set("address")} autocomplete="off"
                hint="an IP address, a CIDR prefix (10.1.0.0/16) or a DNS name" />
      <${Field} id="res-protocol" label="Protocol" field="protocol" err=${err} as="select"
                value=${v.protocol} onChange=${set("protocol")}>
        <option value="any">any</option><option value="tcp">tcp</option><option value="udp">udp</option>
      <//>
      <${Field} id="res-ports" label="Ports" field="ports" err=${err} value=${v.ports}
                onInput=${set("ports")} autocomplete="off" hint="* or a list like 22,443,8000-8100" />
      <fieldset>
        <legend>Connector</legend>
        <label class="inline"><input type="radio" name="via" value="node" checked=${v.via === "node"}
               disabled=${!node}
               onChange=${() => setV({ ...v, via: "node" })} /> a node</label>
        <label class="inline"><input type="radio" name="via" value="tag" checked=${v.via === "tag"}
               onChange=${() => setV({ ...v, via: "tag" })} /> every node with a tag</label>
        ${v.via === "node" ? html`
          <${Field} id="res-node" label="Connector node" field="connector_node_id" err=${err} as="select"
                    value=${node} onChange=${set("node")}>
            ${node && !known && html`<option value=${node}>node #${node}</option>`}
            ${sorted.map((n) => html`<option value=${String(n.id)}>${n.name}${n.ipv4 ? ` (${n.ipv4})` : ""}</option>`)}
          <//>` : html`
          <${Field} id="res-tag" label="Connector tag" field="connector_tag" err=${err} value=${v.tag}
                    onInput=${set("tag")} autocomplete="off" placeholder="tag:connector" />`}
      </fieldset>
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
      <p class="muted">Hosts, subnets and services that a connector node brings into the mesh; the policy decides who reaches them.</p>
      ${editing ? html`<${ResourceForm} key=${editing.id || "new"} row=${editing} nodes=${nodes}
                                         err=${err} onSave=${save} onCancel=${cancel} />`
                : html`<${FormError} err=${err} />`}
      ${rows && rows.length > 0 && html`
        <div class="scroll"><table aria-labelledby="res-title">
          <thead><tr><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Protocol</th>
            <th scope="col">Ports</th><th scope="col">Connector</th><th scope="col">Created</th>
            <th scope="col">Actions</th></tr></thead>
          <tbody>${rows.map((r) => html`
            <tr key=${r.id} data-resource=${r.name}>
              <td>${r.name}</td><td><code>${r.address}</code></td><td>${r.protocol}</td>
              <td>${r.ports}</td><td><${Connector} r=${r} nodes=${nodes} /></td>
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
