// Overview: the controller's version and database, the caller's node
// counts and (admins) the relays with how many online nodes use each as
// their home relay. One call: GET /api/v1/status.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "@weft/api.js";

export function Overview() {
  const [st, setSt] = useState(null);
  const [err, setErr] = useState("");
  const load = () => api("GET", "/api/v1/status").then((s) => { setSt(s); setErr(""); },
    (e) => setErr(e.message));
  useEffect(() => { load(); }, []);
  return html`
    <section aria-labelledby="ov-title">
      <div class="row"><h2 id="ov-title">Overview</h2>
        <button type="button" class="secondary" onClick=${load}>Refresh</button></div>
      ${err && html`<p class="error" role="alert">${err}</p>`}
      ${st && html`
        <div class="tiles">
          <div class="tile"><span class="big" data-testid="nodes-online">${st.nodes.online}</span> online</div>
          <div class="tile"><span class="big" data-testid="nodes-offline">${st.nodes.offline}</span> offline</div>
          <div class="tile"><span class="big">${st.nodes.total}</span> nodes</div>
        </div>
        <dl class="facts">
          <dt>Controller version</dt><dd>${st.version}</dd>
          <dt>Database</dt><dd>${st.database === "postgres" ? "PostgreSQL" : "SQLite"}</dd>
        </dl>
        ${st.relays && html`
          <h3>Relays</h3>
          ${st.relays.length === 0 ? html`<p>No relays are configured.</p>` : html`
            <div class="scroll"><table>
              <thead><tr><th scope="col">Relay</th><th scope="col">Region</th>
                <th scope="col">Address</th><th scope="col">Health</th></tr></thead>
              <tbody>${st.relays.map((r) => html`
                <tr><td>${r.name}</td><td>${r.region}</td><td>${r.address}</td>
                  <td><span class=${r.online_nodes ? "badge on" : "badge"}>
                    ${r.online_nodes ? `in use by ${r.online_nodes} online node${r.online_nodes === 1 ? "" : "s"}` : "no online nodes"}
                  </span></td></tr>`)}
              </tbody></table></div>`}`}`}
    </section>`;
}
