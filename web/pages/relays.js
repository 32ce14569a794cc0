// Relays (admins, as the API allows): the QUIC relays agents use to learn
// their public address and when no direct path works. Lists
// GET /api/v1/relays (name, region, address, key pin, created) with each
// relay's health from GET /api/v1/status (how many online nodes use it as
// their home relay; the controller does not probe relays), kept current by
// the shared watch loop (web/lib/live.js). Create, edit (the name is set
// once: PATCH cannot change it) and delete after a confirmation; the API's
// errors are shown at the field they name.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { relTime } from "@weft/api.js";
import { STATUS, useLive } from "@weft/lib/live.js";
import { EditForm, Field, FormError, useRows } from "@weft/lib/form.js";
import { relayHealth } from "@weft/pages/overview.js";

const FIELDS = ["name", "region", "address", "public_key_pin"];

function RelayForm({ row, err, onSave, onCancel }) {
  const [v, setV] = useState({
    name: row.name || "", region: row.region || "", address: row.address || "",
    pin: row.public_key_pin || "",
  });
  const set = (k) => (e) => setV({ ...v, [k]: e.currentTarget.value });
  const submit = () => {
    const body = { region: v.region, address: v.address };
    if (!row.id) body.name = v.name;
    // An edit sends the pin as it is ("" removes it); a new relay without
    // one leaves it out.
    if (row.id || v.pin) body.public_key_pin = v.pin;
    onSave(body);
  };
  return html`
    <${EditForm} id="relay-form" title=${row.id ? `Edit relay ${row.name}` : "New relay"}
                 onSubmit=${submit} onCancel=${onCancel}>
      <${FormError} err=${err} fields=${FIELDS} />
      <${Field} id="relay-name" label="Name" field="name" err=${err} value=${v.name}
                onInput=${set("name")} autocomplete="off" disabled=${!!row.id}
                hint=${row.id ? "the name is set when the relay is added" : "a-z 0-9 . _ -, e.g. eu-1"} />
      <${Field} id="relay-region" label="Region" field="region" err=${err} value=${v.region}
                onInput=${set("region")} autocomplete="off" hint="a-z 0-9 -, e.g. eu-west" />
      <${Field} id="relay-address" label="Address" field="address" err=${err} value=${v.address}
                onInput=${set("address")} autocomplete="off"
                hint="host:port where agents reach it: 203.0.113.5:3478, [2001:db8::5]:3478 or relay.example.com:3478" />
      <${Field} id="relay-pin" label="Key pin" field="public_key_pin" err=${err} value=${v.pin}
                onInput=${set("pin")} autocomplete="off" spellcheck="false"
                hint="the line weft-relay prints at start (relay pin: …); agents refuse a relay whose key does not match. Empty: no pin" />
    <//>`;
}

export function RelaysPage({ session }) {
  const { data: st, reload: reloadStatus } = useLive(STATUS, session.actor);
  const { rows, editing, err, edit, save, remove, cancel } =
    useRows("/api/v1/relays", () => reloadStatus().catch(() => {}));
  const health = (r) => {
    const s = st && st.relays && st.relays.find((x) => x.id === r.id);
    return s ? html`<span class=${s.online_nodes ? "badge on" : "badge"}>${relayHealth(s.online_nodes)}</span>`
             : html`<span class="muted">…</span>`;
  };
  return html`
    <section aria-labelledby="relays-title">
      <div class="row">
        <h2 id="relays-title">Relays</h2>
        <button type="button" onClick=${() => edit({})}>New relay</button>
      </div>
      <p class="muted">Every agent gets this list in its network map and picks a home relay. Health is how many online nodes use a relay as their home relay.</p>
      ${editing ? html`<${RelayForm} key=${editing.id || "new"} row=${editing}
                                      err=${err} onSave=${save} onCancel=${cancel} />`
                : html`<${FormError} err=${err} />`}
      ${rows && rows.length > 0 && html`
        <div class="scroll"><table aria-labelledby="relays-title">
          <thead><tr><th scope="col">Name</th><th scope="col">Region</th><th scope="col">Address</th>
            <th scope="col">Key pin</th><th scope="col">Health</th><th scope="col">Created</th>
            <th scope="col">Actions</th></tr></thead>
          <tbody>${rows.map((r) => html`
            <tr key=${r.id} data-relay=${r.name}>
              <td>${r.name}</td><td>${r.region}</td><td><code>${r.address}</code></td>
              <td>${r.public_key_pin ? html`<code class="pin">${r.public_key_pin}</code>` : html`<span class="muted">none</span>`}</td>
              <td data-testid="health">${health(r)}</td>
              <td title=${r.created_at}>${relTime(r.created_at)}</td>
              <td class="actions">
                <button type="button" class="secondary" aria-label=${`Edit ${r.name}`} onClick=${() => edit(r)}>Edit</button>
                <button type="button" class="danger" aria-label=${`Delete ${r.name}`}
                        onClick=${() => remove(r, `Delete the relay ${r.name} (${r.address})? It leaves every node's network map.`)}>Delete</button>
              </td>
            </tr>`)}
          </tbody></table></div>`}
      ${rows && rows.length === 0 && html`<p>No relays yet. Without one, nodes that cannot reach each other directly have no path.</p>`}
    </section>`;
}
